-- The organization's lifecycle (issue 27, part 2): see migrations/0019_organization_lifecycle.sql.
ALTER TABLE organizations ADD COLUMN metadata TEXT;
