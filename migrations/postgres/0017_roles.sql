-- Roles as data (issue 26): see migrations/0017_roles.sql. PostgreSQL can
-- drop the CHECKs that allowed only the built-ins in place.
CREATE TABLE org_roles (
    org_id      BIGINT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    key         TEXT   NOT NULL,
    name        TEXT   NOT NULL,
    description TEXT,
    permissions TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (org_id, key)
);

ALTER TABLE memberships DROP CONSTRAINT memberships_role_check;
ALTER TABLE invitations DROP CONSTRAINT invitations_role_check;
ALTER TABLE join_links DROP CONSTRAINT join_links_role_check;

CREATE INDEX invitations_org_role_pending ON invitations (org_id, role, expires_at)
    WHERE status = 'PENDING';
CREATE INDEX join_links_org_role_live ON join_links (org_id, role, expires_at)
    WHERE revoked_at IS NULL;
