-- See ../0012_openid_provider.sql.
ALTER TABLE oauth_clients ADD COLUMN first_party BIGINT NOT NULL DEFAULT 1;
ALTER TABLE oauth_clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_clients ADD COLUMN resources TEXT NOT NULL DEFAULT '';

ALTER TABLE oauth_codes ADD COLUMN nonce TEXT;
ALTER TABLE oauth_codes ADD COLUMN auth_time BIGINT;
ALTER TABLE oauth_codes ADD COLUMN methods TEXT;
ALTER TABLE oauth_codes ADD COLUMN resource TEXT;
ALTER TABLE refresh_tokens ADD COLUMN resource TEXT;

CREATE TABLE oauth_consents (
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id  BIGINT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    scope      TEXT   NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX oauth_consents_client ON oauth_consents (client_id);
