-- Bring your own identity (src/db/identities.rs, src/db/oidc_logins.rs).
--
-- An identity is a person at an OpenID provider: the provider's issuer and
-- the `sub` it gives them. It links to one account, for good: a later
-- change of email at the provider never moves it. The same issuer reached
-- through sign-in (`[[auth.oidc_providers]]`) or through a bearer token
-- (`[[auth.trusted_issuers]]`) is the same identity.
CREATE TABLE identities (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    issuer       TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    -- The configured provider's id it was first linked through, or NULL
    -- when it came as a trusted issuer's token.
    provider     TEXT,
    -- The address the provider gave when it was linked (for people to
    -- recognise it; the account's own email is what counts).
    email        TEXT,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    -- Set when the account's holder unlinked it: the row stays, so the
    -- identity never links itself again by its email; only the holder,
    -- signed in, connects it again from the account page.
    unlinked_at  INTEGER,
    UNIQUE (issuer, subject)
);
CREATE INDEX identities_user ON identities (user_id);

-- A sign-in at a provider in progress: created when the browser leaves for
-- the provider, used up (deleted) when it comes back. Found by the SHA-256
-- of the `state` parameter, and only for the browser that started it (the
-- SHA-256 of its cookie). The nonce and the PKCE verifier live here, never
-- in the browser.
CREATE TABLE oidc_logins (
    state_sha256   BLOB    PRIMARY KEY,
    provider       TEXT    NOT NULL,
    browser_sha256 BLOB    NOT NULL,
    nonce          TEXT    NOT NULL,
    pkce_verifier  TEXT    NOT NULL,
    -- Where the person was going: a path of ours (checked when stored).
    return_to      TEXT    NOT NULL,
    -- A signed-in holder connecting this provider from the account page:
    -- the identity links to this account (and only while it is signed in).
    connect_user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX oidc_logins_expiry ON oidc_logins (expires_at);
