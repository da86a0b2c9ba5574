-- Passkeys (WebAuthn) (src/db/passkeys.rs, docs/passkeys.md).
--
-- Each account that registers a passkey gets one random WebAuthn user
-- handle, made once: the authenticator stores it with the credential and
-- hands it back at sign-in, so it must say nothing about the account (not
-- its id, not its address).
CREATE TABLE passkey_handles (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    handle  TEXT    NOT NULL UNIQUE
);

-- The account's passkeys. `credential_id` is unique across accounts: an
-- authenticator's credential belongs to one account only. `passkey` is the
-- credential as webauthn-rs serialises it (public key, signature counter,
-- flags): nothing secret, but the counter in it is what tells a cloned
-- authenticator.
CREATE TABLE passkeys (
    credential_id BLOB    PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    passkey       TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
) WITHOUT ROWID;
CREATE INDEX passkeys_by_user ON passkeys (user_id, created_at);

-- A ceremony under way: the challenge a browser was given and what
-- checking its answer needs (webauthn-rs's state, kept here, never sent to
-- the browser). Found by the SHA-256 of the random id the browser got,
-- used once (deleted when its answer is read), a few minutes long.
-- `user_id` is the account registering a passkey, NULL for a sign-in.
CREATE TABLE passkey_ceremonies (
    id_sha256  BLOB    PRIMARY KEY,
    user_id    INTEGER REFERENCES users(id) ON DELETE CASCADE,
    name       TEXT,
    state      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies (expires_at);
