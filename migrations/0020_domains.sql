-- Verified domains (issue 27): an organization registers an email domain,
-- proves control with a DNS TXT record, and then suggests itself to,
-- invites or admits the people whose verified address is at the domain.
CREATE TABLE org_domains (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    -- Lower-case ASCII (IDNA), as the domain part of users.email_key.
    domain      TEXT    NOT NULL,
    mode        TEXT    NOT NULL CHECK (mode IN ('suggest', 'auto_invite', 'auto_join')),
    role        TEXT    NOT NULL,
    -- The whole TXT value to publish: enlist-verification=<random>.
    challenge   TEXT    NOT NULL,
    verified_at INTEGER,
    -- When the record was last looked up (verify, or the recheck).
    checked_at  INTEGER,
    created_at  INTEGER NOT NULL,
    UNIQUE (org_id, domain)
);
-- One organization's domains, in creation order.
CREATE INDEX org_domains_org ON org_domains (org_id);
-- Registered by several organizations, verified by one at most: a race of
-- two verifies cannot end with both holding it.
CREATE UNIQUE INDEX org_domains_verified ON org_domains (domain) WHERE verified_at IS NOT NULL;
-- The recheck's queue: verified domains by when they were last looked up.
CREATE INDEX org_domains_recheck ON org_domains (checked_at) WHERE verified_at IS NOT NULL;

-- The teams a domain puts the people it brings in.
CREATE TABLE domain_teams (
    domain_id INTEGER NOT NULL REFERENCES org_domains(id) ON DELETE CASCADE,
    team_id   INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    PRIMARY KEY (domain_id, team_id)
) WITHOUT ROWID;
CREATE INDEX domain_teams_team ON domain_teams (team_id);
