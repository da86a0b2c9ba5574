-- API keys die with their owner's admin role: why a key was revoked
-- ('revoked' by hand, 'owner_removed' from the organization, 'owner_demoted'
-- to member), and a way to find a person's live keys in one organization.
ALTER TABLE api_keys ADD COLUMN revoked_reason TEXT;
UPDATE api_keys SET revoked_reason = 'revoked' WHERE revoked_at IS NOT NULL;
-- Keys whose owner already left or lost the admin role stay dead for good
-- (before this step re-adding the owner as an admin revived them).
UPDATE api_keys
   SET revoked_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
       revoked_reason = CASE WHEN EXISTS (SELECT 1 FROM memberships m
                                          WHERE m.org_id = api_keys.org_id
                                            AND m.user_id = api_keys.user_id)
                             THEN 'owner_demoted' ELSE 'owner_removed' END
 WHERE revoked_at IS NULL
   AND NOT EXISTS (SELECT 1 FROM memberships m
                   WHERE m.org_id = api_keys.org_id AND m.user_id = api_keys.user_id
                     AND m.role = 'ADMIN');
CREATE INDEX api_keys_owner ON api_keys (org_id, user_id) WHERE revoked_at IS NULL;
-- Whatever path ends a membership or an admin role (the admin API, a member
-- leaving on their own, a cascade), the person's keys in that organization
-- die with it. The services revoke first, with their clock; these catch
-- every other path.
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

-- Invitation messages are capped per (organization, address) and per
-- organization over sliding windows, counted from the outbox through these
-- indexes. Both columns are copied from the invitation when the message is queued.
ALTER TABLE outbox ADD COLUMN org_id INTEGER;
ALTER TABLE outbox ADD COLUMN recipient_key TEXT;
UPDATE outbox
   SET org_id = (SELECT i.org_id FROM invitations i WHERE i.id = outbox.invitation_id),
       recipient_key = (SELECT i.invitee_email_key FROM invitations i
                        WHERE i.id = outbox.invitation_id)
 WHERE invitation_id IS NOT NULL;
CREATE INDEX outbox_org_recipient ON outbox (org_id, recipient_key, created_at);
CREATE INDEX outbox_org_created ON outbox (org_id, created_at);
