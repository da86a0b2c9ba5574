-- Search on the admin lists (issue 27, part 3): see migrations/0021_search.sql.
-- Keys compare in code-point order ("C" collation, UTF-8 byte order) so a
-- prefix is one index range, as on SQLite: the email keys move to "C" too
-- (equality is unchanged; their indexes are rebuilt).
ALTER TABLE users ALTER COLUMN email_key TYPE TEXT COLLATE "C";
ALTER TABLE invitations ALTER COLUMN invitee_email_key TYPE TEXT COLLATE "C";
ALTER TABLE users ADD COLUMN name_key TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN last_name_key TEXT COLLATE "C" NOT NULL DEFAULT '';
-- Later writes key names in Rust; lower() here folds what the database's
-- locale knows (all of Unicode under a UTF-8 locale, ASCII only under "C").
UPDATE users SET name_key = lower(btrim(btrim(first_name) || ' ' || btrim(last_name))),
                 last_name_key = lower(btrim(last_name));
CREATE INDEX users_name_key ON users (name_key);
CREATE INDEX users_last_name_key ON users (last_name_key);
CREATE INDEX invitations_org_email
    ON invitations (org_id, invitee_email_key, created_at DESC, id DESC, status, expires_at);
