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
