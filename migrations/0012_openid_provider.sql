-- enlist as an OpenID provider (src/services/oidc.rs, docs/openid-provider.md).
--
-- A client the operator registered is first-party unless registered with
-- `--third-party`: only third-party clients ask the person's consent.
-- `post_logout_redirect_uris` and `resources` are lists, one per line, like
-- `redirect_uris`: where RP-initiated logout may return to, and the APIs
-- (RFC 8707 resource indicators) the client may ask tokens for.
ALTER TABLE oauth_clients ADD COLUMN first_party INTEGER NOT NULL DEFAULT 1;
ALTER TABLE oauth_clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_clients ADD COLUMN resources TEXT NOT NULL DEFAULT '';

-- What an ID token issued for the code says of the sign-in: the nonce the
-- client sent, when the person signed in and how (`web_sessions.methods`);
-- and the resource the tokens are for (NULL: enlist's own API).
ALTER TABLE oauth_codes ADD COLUMN nonce TEXT;
ALTER TABLE oauth_codes ADD COLUMN auth_time INTEGER;
ALTER TABLE oauth_codes ADD COLUMN methods TEXT;
ALTER TABLE oauth_codes ADD COLUMN resource TEXT;
ALTER TABLE refresh_tokens ADD COLUMN resource TEXT;

-- A person's consent to a third-party client: the scopes granted, remembered
-- until revoked on the account page. Asking for more asks again.
CREATE TABLE oauth_consents (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id  INTEGER NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    scope      TEXT    NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX oauth_consents_client ON oauth_consents (client_id);
