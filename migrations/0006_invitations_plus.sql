-- Per-invitation options: the admin's personal message (shown in the email
-- and on the hosted page) and opaque metadata (a JSON object, returned to
-- the admin only). NULL when unset.
ALTER TABLE invitations ADD COLUMN message TEXT;
ALTER TABLE invitations ADD COLUMN metadata TEXT;

-- Join links: one URL that lets up to max_uses people with a verified email
-- join with one role. Only the SHA-256 of the link's token is stored. The cap
-- holds because a join raises `uses` with a conditional UPDATE in the same
-- transaction as the membership insert (and the CHECK backs it up).
CREATE TABLE join_links (
    id                    INTEGER PRIMARY KEY,
    org_id                INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    token_digest          BLOB    NOT NULL UNIQUE,
    role                  TEXT    NOT NULL CHECK (role IN ('ADMIN', 'MEMBER')),
    max_uses              INTEGER NOT NULL CHECK (max_uses BETWEEN 1 AND 10000),
    uses                  INTEGER NOT NULL DEFAULT 0 CHECK (uses BETWEEN 0 AND max_uses),
    expires_at            INTEGER NOT NULL,
    -- A JSON array of lower-case domains, or NULL for any.
    allowed_email_domains TEXT,
    created_by            INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at            INTEGER NOT NULL,
    revoked_at            INTEGER
);
-- Admin list pages, newest first.
CREATE INDEX join_links_org_created ON join_links (org_id, created_at DESC, id DESC);
-- The list's total, kept by triggers so counting never scans.
CREATE TABLE join_link_counts (
    org_id INTEGER PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
    n      INTEGER NOT NULL
);
CREATE TRIGGER join_links_count_insert AFTER INSERT ON join_links BEGIN
    INSERT INTO join_link_counts (org_id, n) VALUES (NEW.org_id, 1)
        ON CONFLICT (org_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER join_links_count_delete AFTER DELETE ON join_links BEGIN
    UPDATE join_link_counts SET n = n - 1 WHERE org_id = OLD.org_id;
END;

-- Idempotency-Key: the first answer to an admin POST, PATCH or DELETE, per
-- API key and key string, replayed for the same request until expires_at.
-- status is NULL while the first request is still running.
CREATE TABLE idempotency_keys (
    api_key_id   INTEGER NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    key          TEXT    NOT NULL,
    fingerprint  BLOB    NOT NULL,
    status       INTEGER,
    content_type TEXT,
    body         BLOB,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (api_key_id, key)
) WITHOUT ROWID;
-- Pruning expired entries.
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
