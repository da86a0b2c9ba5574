-- Search on the admin lists (issue 27, part 3). Keys are compared as
-- ranges in code-point order (SQLite's BINARY collation): a prefix `p`
-- matches `key >= p AND key < p || U+10FFFF`, one index range.
--
-- Names are searched by keys the writes keep (lower-cased in Rust, so
-- beyond ASCII too; the names never change after an account is made):
-- "first last" (a prefix of the first name, or of both) and the last name.
-- The backfill below lower-cases ASCII only; the migration then re-keys
-- the rows whose names hold other letters (src/db/migrate.rs).
ALTER TABLE users ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN last_name_key TEXT NOT NULL DEFAULT '';
UPDATE users SET name_key = lower(trim(trim(first_name) || ' ' || trim(last_name))),
                 last_name_key = lower(trim(last_name));
-- Accounts are global: a member search finds accounts by these (and by
-- the existing unique email_key), then probes the membership's primary key.
CREATE INDEX users_name_key ON users (name_key);
CREATE INDEX users_last_name_key ON users (last_name_key);

-- An organization's invitations to one address (or a range of addresses),
-- in page order within one address, with what the filters read.
CREATE INDEX invitations_org_email
    ON invitations (org_id, invitee_email_key, created_at DESC, id DESC, status, expires_at);
