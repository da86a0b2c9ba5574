-- Only the inbox proves the inbox (src/db/invitation_links.rs).
--
-- Every invitation message carries a secret of its own; only its SHA-256
-- is kept. A visit that presents one proves the invitee's inbox, as long
-- as its invitation can still be answered (a resend adds a secret and
-- leaves the older ones valid).
CREATE TABLE invitation_links (
    token_sha256  BLOB    PRIMARY KEY,
    invitation_id INTEGER NOT NULL REFERENCES invitations(id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX invitation_links_invitation ON invitation_links (invitation_id);

-- Keys an account minted for itself in the console (1) end with a password
-- reset of that account; keys the operator made (0) stay.
ALTER TABLE api_keys ADD COLUMN minted_in_console INTEGER NOT NULL DEFAULT 0;
-- Keys minted before this version: the console's are those whose creation
-- event names a signed-in person as its actor (keys older than the event
-- log predate the console).
UPDATE api_keys SET minted_in_console = 1
WHERE id IN (SELECT json_extract(body, '$.data.apiKey.id') FROM events
             WHERE type = 'api_key.created' AND json_extract(body, '$.actor.type') = 'user');

-- When the session's holder last typed the account's password: minting a
-- key in the console asks for it again unless this is recent.
ALTER TABLE web_sessions ADD COLUMN password_at INTEGER;

-- A message no longer holds its link's secret once it is sent, given up
-- on or withdrawn: the link and the bodies are emptied then (the metadata
-- stays). Messages done before this version are emptied now.
UPDATE outbox SET link = '', text_body = '', html_body = ''
WHERE sent_at IS NOT NULL OR failed_at IS NOT NULL;

-- Answers kept for idempotent replays no longer hold secrets shown once
-- (webhook secrets, join-link URLs); those kept before this version go.
DELETE FROM idempotency_keys
WHERE CAST(body AS TEXT) LIKE '%whsec\_%' ESCAPE '\' OR CAST(body AS TEXT) LIKE '%/join/%';

-- A password reset or a claim revokes the account's keys: found by owner.
CREATE INDEX api_keys_user ON api_keys (user_id) WHERE revoked_at IS NULL;
