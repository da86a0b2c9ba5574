-- The organization's lifecycle over HTTP (issue 27, part 2): metadata an
-- admin attaches to the organization (a JSON object, at most 8 KiB as
-- compact JSON, stored as text and returned by the admin API only).
ALTER TABLE organizations ADD COLUMN metadata TEXT;
