-- Ending every credential of one account (a password change, a reset, an
-- address claimed by its owner) finds them by account, not by scanning.
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id) WHERE revoked_at IS NULL;
CREATE INDEX oauth_codes_user ON oauth_codes (user_id);
