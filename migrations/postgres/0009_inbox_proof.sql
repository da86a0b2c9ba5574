-- Only the inbox proves the inbox: see migrations/0009_inbox_proof.sql.
CREATE TABLE invitation_links (
    token_sha256  BYTEA  PRIMARY KEY,
    invitation_id BIGINT NOT NULL REFERENCES invitations(id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL
);
CREATE INDEX invitation_links_invitation ON invitation_links (invitation_id);

ALTER TABLE api_keys ADD COLUMN minted_in_console BIGINT NOT NULL DEFAULT 0;
UPDATE api_keys SET minted_in_console = 1
WHERE id IN (SELECT (body::jsonb #>> '{data,apiKey,id}')::bigint FROM events
             WHERE type = 'api_key.created' AND body::jsonb #>> '{actor,type}' = 'user');

ALTER TABLE web_sessions ADD COLUMN password_at BIGINT;

UPDATE outbox SET link = '', text_body = '', html_body = ''
WHERE sent_at IS NOT NULL OR failed_at IS NOT NULL;

DELETE FROM idempotency_keys
WHERE position('whsec_'::bytea IN body) > 0 OR position('/join/'::bytea IN body) > 0;

CREATE INDEX api_keys_user ON api_keys (user_id) WHERE revoked_at IS NULL;
