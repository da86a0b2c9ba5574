-- The whole enlist schema. Embedded into the binary and applied to a new
-- database in one transaction; PRAGMA user_version records the version
-- (see src/db/mod.rs, SCHEMA_VERSION) so later releases can upgrade in steps.
--
-- Timestamps are INTEGER milliseconds since the Unix epoch (UTC): compact,
-- cheap to compare in range scans, formatted as RFC 3339 at the edge.

CREATE TABLE organizations (
    id           INTEGER PRIMARY KEY,
    uuid         TEXT    NOT NULL UNIQUE,
    name         TEXT    NOT NULL,
    logo_url     TEXT,
    -- Maintained by the membership triggers below so reading it never counts rows.
    member_count INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT    NOT NULL,
    -- Lower-cased email: the case-insensitive identity of the account.
    email_key     TEXT    NOT NULL UNIQUE,
    first_name    TEXT    NOT NULL DEFAULT '',
    last_name     TEXT    NOT NULL DEFAULT '',
    avatar_url    TEXT,
    -- argon2id PHC string; NULL for accounts that cannot sign in with a password.
    password_hash TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE memberships (
    org_id     INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role       TEXT    NOT NULL CHECK (role IN ('ADMIN', 'MEMBER')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, user_id)
) WITHOUT ROWID;

-- The last-admin rule counts an organization's admins only.
CREATE INDEX memberships_org_role ON memberships (org_id, role);
-- "Which organizations is this person in" without scanning every organization.
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TRIGGER memberships_count_insert AFTER INSERT ON memberships BEGIN
    UPDATE organizations SET member_count = member_count + 1 WHERE id = NEW.org_id;
END;
CREATE TRIGGER memberships_count_delete AFTER DELETE ON memberships BEGIN
    UPDATE organizations SET member_count = member_count - 1 WHERE id = OLD.org_id;
END;

CREATE TABLE invitations (
    id                INTEGER PRIMARY KEY,
    uuid              TEXT    NOT NULL UNIQUE,
    org_id            INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    invitee_email     TEXT    NOT NULL,
    invitee_email_key TEXT    NOT NULL,
    role              TEXT    NOT NULL CHECK (role IN ('ADMIN', 'MEMBER')),
    -- The stored status. A PENDING row whose expires_at has passed reads as
    -- EXPIRED everywhere; a background sweep later stores that too.
    status            TEXT    NOT NULL
                      CHECK (status IN ('PENDING', 'ACCEPTED', 'DECLINED', 'REVOKED', 'EXPIRED')),
    inviter_user_id   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    -- When an admin last asked to send it again (resends are rate limited).
    last_resent_at    INTEGER
);

-- Admin list pages, newest first. status and expires_at are carried in the
-- index so filtering and OFFSET skipping never touch the table rows.
CREATE INDEX invitations_org_created
    ON invitations (org_id, created_at DESC, id DESC, status, expires_at);
CREATE INDEX invitations_org_status_created
    ON invitations (org_id, status, created_at DESC, id DESC, expires_at);
-- Counting the pending rows that have expired but were not swept yet.
CREATE INDEX invitations_org_status_expiry ON invitations (org_id, status, expires_at);
-- The invitee's own invitations, and the duplicate-invitation check.
CREATE INDEX invitations_invitee ON invitations (invitee_email_key, status, expires_at);
-- The expiry sweep.
CREATE INDEX invitations_pending_expiry ON invitations (expires_at) WHERE status = 'PENDING';

-- Per organization and stored status, kept exact by triggers, so totalCount
-- is a handful of row reads whatever the organization's size.
CREATE TABLE invitation_counts (
    org_id INTEGER NOT NULL,
    status TEXT    NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (org_id, status)
) WITHOUT ROWID;

CREATE TRIGGER invitations_count_insert AFTER INSERT ON invitations BEGIN
    INSERT INTO invitation_counts (org_id, status, n) VALUES (NEW.org_id, NEW.status, 1)
        ON CONFLICT (org_id, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER invitations_count_delete AFTER DELETE ON invitations BEGIN
    UPDATE invitation_counts SET n = n - 1 WHERE org_id = OLD.org_id AND status = OLD.status;
END;
CREATE TRIGGER invitations_count_update AFTER UPDATE OF status ON invitations
    WHEN OLD.status <> NEW.status BEGIN
    UPDATE invitation_counts SET n = n - 1 WHERE org_id = OLD.org_id AND status = OLD.status;
    INSERT INTO invitation_counts (org_id, status, n) VALUES (NEW.org_id, NEW.status, 1)
        ON CONFLICT (org_id, status) DO UPDATE SET n = n + 1;
END;

CREATE TABLE api_keys (
    id            INTEGER PRIMARY KEY,
    -- The public part of the key, used to find the row; not a secret.
    public_id     TEXT    NOT NULL UNIQUE,
    -- SHA-256 of the secret part. The secret itself is never stored.
    secret_sha256 BLOB    NOT NULL,
    org_id        INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT    NOT NULL DEFAULT '',
    -- Space-separated scope names.
    scopes        TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER
);
CREATE INDEX api_keys_org ON api_keys (org_id, id);

-- Secrets the server generates for itself on first start (the access-token
-- signing key). Never a built-in default.
CREATE TABLE server_secrets (
    name       TEXT    PRIMARY KEY,
    value      BLOB    NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- OAuth2 clients. A confidential client has a secret (only its SHA-256 is
-- kept); a public client has none and must use PKCE. user_id binds a
-- confidential client to the account its client-credentials tokens act for.
CREATE TABLE oauth_clients (
    id            INTEGER PRIMARY KEY,
    client_id     TEXT    NOT NULL UNIQUE,
    secret_sha256 BLOB,
    name          TEXT    NOT NULL,
    -- Registered redirect URIs, one per line, matched exactly.
    redirect_uris TEXT    NOT NULL,
    user_id       INTEGER REFERENCES users(id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL
);

-- Authorization codes: single use (deleted when exchanged), short-lived.
CREATE TABLE oauth_codes (
    code_sha256    BLOB    PRIMARY KEY,
    client_id      INTEGER NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    redirect_uri   TEXT    NOT NULL,
    code_challenge TEXT,
    scope          TEXT    NOT NULL,
    expires_at     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX oauth_codes_expiry ON oauth_codes (expires_at);

-- Refresh tokens, rotated on every use. All tokens descending from one
-- authorization share a family; presenting a used token revokes the family.
CREATE TABLE refresh_tokens (
    token_sha256 BLOB    PRIMARY KEY,
    family       TEXT    NOT NULL,
    client_id    INTEGER NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    scope        TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER,
    revoked_at   INTEGER
) WITHOUT ROWID;
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);

-- Messages to deliver (a transactional outbox): written in the same
-- transaction as the change they announce, sent by a background worker
-- with retries, marked sent only after the transport accepted them.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    invitation_id   INTEGER REFERENCES invitations(id) ON DELETE CASCADE,
    recipient       TEXT    NOT NULL,
    -- The link the message carries (logged by the `log` transport).
    link            TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    text_body       TEXT    NOT NULL,
    html_body       TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    -- Set when the worker gave up after its last attempt.
    failed_at       INTEGER
);
-- The worker's queue: only messages still to send, by due time.
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;

-- Signed-in browsers of the hosted pages (the session cookie holds the
-- token; only its SHA-256 is kept).
CREATE TABLE web_sessions (
    token_sha256 BLOB    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
