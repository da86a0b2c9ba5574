-- Teams (issue 26): groups of members inside an organization. A member
-- belongs to any number of its teams. Invitations and join links may name
-- teams the person joins on accepting or joining.
CREATE TABLE teams (
    id           INTEGER PRIMARY KEY,
    org_id       INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    -- The name trimmed and lower-cased: "Billing" and "billing " are one name.
    name_key     TEXT    NOT NULL,
    description  TEXT,
    -- Kept by the team_members triggers, so the team's answer and the
    -- members list's total never count rows.
    member_count INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (org_id, name_key)
);
-- The teams list, in creation order (the rowid rides along in the index).
CREATE INDEX teams_org ON teams (org_id);

CREATE TABLE team_members (
    team_id    INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL,
    org_id     INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (team_id, user_id),
    -- Only members belong to teams: leaving the organization (removed,
    -- left, account deleted) leaves its teams in the same transaction.
    FOREIGN KEY (org_id, user_id) REFERENCES memberships (org_id, user_id) ON DELETE CASCADE
) WITHOUT ROWID;
-- A member's teams: the cascade from memberships, and removing a member.
CREATE INDEX team_members_org_user ON team_members (org_id, user_id);
CREATE TRIGGER team_members_count_insert AFTER INSERT ON team_members BEGIN
    UPDATE teams SET member_count = member_count + 1 WHERE id = NEW.team_id;
END;
CREATE TRIGGER team_members_count_delete AFTER DELETE ON team_members BEGIN
    UPDATE teams SET member_count = member_count - 1 WHERE id = OLD.team_id;
END;

-- The teams an invitation or a join link puts the person in. A deleted
-- team's rows go with it, so accepting joins the teams that still exist.
CREATE TABLE invitation_teams (
    invitation_id INTEGER NOT NULL REFERENCES invitations(id) ON DELETE CASCADE,
    team_id       INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    PRIMARY KEY (invitation_id, team_id)
) WITHOUT ROWID;
CREATE INDEX invitation_teams_team ON invitation_teams (team_id);

CREATE TABLE join_link_teams (
    join_link_id INTEGER NOT NULL REFERENCES join_links(id) ON DELETE CASCADE,
    team_id      INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    PRIMARY KEY (join_link_id, team_id)
) WITHOUT ROWID;
CREATE INDEX join_link_teams_team ON join_link_teams (team_id);
