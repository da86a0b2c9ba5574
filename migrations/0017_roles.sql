-- Roles as data (issue 26). An organization's own roles, each a key, a
-- display name and a set of permission names. The built-ins ADMIN and
-- MEMBER are not rows: they are the same everywhere and cannot change.
-- memberships, invitations and join_links keep holding a role's key in
-- `role`; the CHECK that allowed only the built-ins goes, and the services
-- check a custom key against org_roles in the same transaction.
CREATE TABLE org_roles (
    org_id      INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    -- Lower case ([a-z][a-z0-9_-]{0,62}), so never one of the built-ins.
    key         TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    description TEXT,
    -- Space-separated permission names, sorted (a name never holds a space).
    permissions TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (org_id, key)
) WITHOUT ROWID;

-- SQLite cannot drop a CHECK, so the three tables are rebuilt (the
-- migration runs with foreign keys off, see migrate.rs, so dropping the
-- old invitations does not cascade into the rows that refer to them).
-- Their indexes and triggers go with the old tables and are made again.

CREATE TABLE memberships_new (
    org_id     INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- ADMIN, MEMBER or one of the organization's org_roles keys.
    role       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, user_id)
) WITHOUT ROWID;
INSERT INTO memberships_new (org_id, user_id, role, created_at, updated_at)
    SELECT org_id, user_id, role, created_at, updated_at FROM memberships;
DROP TABLE memberships;
ALTER TABLE memberships_new RENAME TO memberships;
-- The last-manager rule, and "how many members hold this role".
CREATE INDEX memberships_org_role ON memberships (org_id, role);
CREATE INDEX memberships_user ON memberships (user_id);
CREATE TRIGGER memberships_count_insert AFTER INSERT ON memberships BEGIN
    UPDATE organizations SET member_count = member_count + 1 WHERE id = NEW.org_id;
END;
CREATE TRIGGER memberships_count_delete AFTER DELETE ON memberships BEGIN
    UPDATE organizations SET member_count = member_count - 1 WHERE id = OLD.org_id;
END;
CREATE TRIGGER memberships_revoke_keys_delete AFTER DELETE ON memberships BEGIN
    UPDATE api_keys
       SET revoked_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
           revoked_reason = 'owner_removed'
     WHERE org_id = OLD.org_id AND user_id = OLD.user_id AND revoked_at IS NULL;
END;
CREATE TRIGGER memberships_revoke_keys_demote AFTER UPDATE OF role ON memberships
    WHEN OLD.role = 'ADMIN' AND NEW.role <> 'ADMIN' BEGIN
    UPDATE api_keys
       SET revoked_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
           revoked_reason = 'owner_demoted'
     WHERE org_id = OLD.org_id AND user_id = OLD.user_id AND revoked_at IS NULL;
END;

CREATE TABLE invitations_new (
    id                INTEGER PRIMARY KEY,
    uuid              TEXT    NOT NULL UNIQUE,
    org_id            INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    invitee_email     TEXT    NOT NULL,
    invitee_email_key TEXT    NOT NULL,
    -- ADMIN, MEMBER or one of the organization's org_roles keys.
    role              TEXT    NOT NULL,
    -- The stored status. A PENDING row whose expires_at has passed reads as
    -- EXPIRED everywhere; a background sweep later stores that too.
    status            TEXT    NOT NULL
                      CHECK (status IN ('PENDING', 'ACCEPTED', 'DECLINED', 'REVOKED', 'EXPIRED')),
    inviter_user_id   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    -- When an admin last asked to send it again (resends are rate limited).
    last_resent_at    INTEGER,
    message           TEXT,
    metadata          TEXT,
    remind_at         INTEGER
);
INSERT INTO invitations_new (id, uuid, org_id, invitee_email, invitee_email_key, role, status,
                             inviter_user_id, created_at, updated_at, expires_at,
                             last_resent_at, message, metadata, remind_at)
    SELECT id, uuid, org_id, invitee_email, invitee_email_key, role, status,
           inviter_user_id, created_at, updated_at, expires_at,
           last_resent_at, message, metadata, remind_at
      FROM invitations;
DROP TABLE invitations;
ALTER TABLE invitations_new RENAME TO invitations;
CREATE INDEX invitations_org_created
    ON invitations (org_id, created_at DESC, id DESC, status, expires_at);
CREATE INDEX invitations_org_status_created
    ON invitations (org_id, status, created_at DESC, id DESC, expires_at);
CREATE INDEX invitations_org_status_expiry ON invitations (org_id, status, expires_at);
CREATE INDEX invitations_invitee ON invitations (invitee_email_key, status, expires_at);
CREATE INDEX invitations_pending_expiry ON invitations (expires_at) WHERE status = 'PENDING';
CREATE INDEX invitations_remind ON invitations (remind_at) WHERE remind_at IS NOT NULL;
-- "How many pending invitations hold this role", before deleting it.
CREATE INDEX invitations_org_role_pending ON invitations (org_id, role, expires_at)
    WHERE status = 'PENDING';
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

CREATE TABLE join_links_new (
    id                    INTEGER PRIMARY KEY,
    org_id                INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    token_digest          BLOB    NOT NULL UNIQUE,
    -- ADMIN, MEMBER or one of the organization's org_roles keys.
    role                  TEXT    NOT NULL,
    max_uses              INTEGER NOT NULL CHECK (max_uses BETWEEN 1 AND 10000),
    uses                  INTEGER NOT NULL DEFAULT 0 CHECK (uses BETWEEN 0 AND max_uses),
    expires_at            INTEGER NOT NULL,
    -- A JSON array of lower-case domains, or NULL for any.
    allowed_email_domains TEXT,
    created_by            INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at            INTEGER NOT NULL,
    revoked_at            INTEGER
);
INSERT INTO join_links_new (id, org_id, token_digest, role, max_uses, uses, expires_at,
                            allowed_email_domains, created_by, created_at, revoked_at)
    SELECT id, org_id, token_digest, role, max_uses, uses, expires_at,
           allowed_email_domains, created_by, created_at, revoked_at
      FROM join_links;
DROP TABLE join_links;
ALTER TABLE join_links_new RENAME TO join_links;
CREATE INDEX join_links_org_created ON join_links (org_id, created_at DESC, id DESC);
-- "How many usable join links hand out this role", before deleting it.
CREATE INDEX join_links_org_role_live ON join_links (org_id, role, expires_at)
    WHERE revoked_at IS NULL;
CREATE TRIGGER join_links_count_insert AFTER INSERT ON join_links BEGIN
    INSERT INTO join_link_counts (org_id, n) VALUES (NEW.org_id, 1)
        ON CONFLICT (org_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER join_links_count_delete AFTER DELETE ON join_links BEGIN
    UPDATE join_link_counts SET n = n - 1 WHERE org_id = OLD.org_id;
END;
