-- Credentials end together (RFC 6749 4.1.2, RFC 9700 4.14).
--
-- Authorization codes are kept after their exchange, marked used, until they
-- expire: a code presented a second time revokes the refresh-token family
-- its first exchange started.
ALTER TABLE oauth_codes ADD COLUMN used_at INTEGER;
ALTER TABLE oauth_codes ADD COLUMN family TEXT;

-- A refresh-token family's start: no rotation outlives it by more than
-- auth.refresh_token_max_lifetime. Existing families started with their
-- oldest token.
ALTER TABLE refresh_tokens ADD COLUMN family_started_at INTEGER;
UPDATE refresh_tokens SET family_started_at =
    (SELECT min(r.created_at) FROM refresh_tokens r WHERE r.family = refresh_tokens.family);

-- Access tokens are signed with Ed25519 keys (EdDSA). The private key is
-- PKCS#8 DER, or NULL when it lives in auth.signing_key_file. One key signs
-- (retired_at IS NULL); a retired key stays published until every token it
-- signed has expired, then it is deleted. kid is the RFC 7638 thumbprint.
CREATE TABLE signing_keys (
    id          INTEGER PRIMARY KEY,
    kid         TEXT    NOT NULL UNIQUE,
    private_key BLOB,
    public_key  BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER
);
-- The HS256 secret of earlier versions signs nothing any more.
DELETE FROM server_secrets WHERE name = 'access_token_hs256';
