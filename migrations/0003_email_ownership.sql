-- An invitation reaches only the person who owns its inbox.

-- When the account's email was proven: by a link enlist delivered to that
-- inbox, or by the operator who made the account. NULL: not proven.
ALTER TABLE users ADD COLUMN email_verified_at INTEGER;

-- Accounts that existed before verification: those the operator made or
-- vouched for (no password: `org create`; bound to a client: `client create
-- --user`) and those already in an organization are taken as proven. Anyone
-- else who signed up on a page proves their address on their next sign-in.
UPDATE users SET email_verified_at = updated_at
 WHERE password_hash IS NULL
    OR EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = users.id)
    OR EXISTS (SELECT 1 FROM oauth_clients c WHERE c.user_id = users.id);

-- The unverified-account sweep reads only unproven accounts, oldest first.
CREATE INDEX users_unverified ON users (created_at) WHERE email_verified_at IS NULL;

-- Single-use links mailed to an inbox: email verification and password
-- reset. Only the SHA-256 of the link's token is kept.
CREATE TABLE email_links (
    token_sha256  BLOB    PRIMARY KEY,
    purpose       TEXT    NOT NULL CHECK (purpose IN ('verify', 'reset')),
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- SHA-256 of a random cookie of the browser that asked for the link, when
    -- that browser proved the account's password (or chose it): following
    -- the link there only confirms. Anywhere else the follower sets a password.
    browser_sha256 BLOB,
    -- A password the asking browser chose for an account it did not own yet
    -- (signing up again for an unverified address); applied only there.
    password_hash TEXT,
    -- Where the person was going: `authorize:<query>` or `invite:<uuid>`.
    resume        TEXT,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    used_at       INTEGER
) WITHOUT ROWID;
CREATE INDEX email_links_user ON email_links (user_id);
CREATE INDEX email_links_expiry ON email_links (expires_at);

-- Outbox messages are no longer only invitations.
ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'invitation';
