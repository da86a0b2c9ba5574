-- How each session's holder proved who they are (src/domain/auth_method.rs):
-- the methods' names, space-separated, in the order used ("password",
-- "email_code", "provider", "passkey", "totp", "recovery_code"). ID tokens
-- carry them as `amr`; a second factor added later is appended. Sessions
-- from before this version were all started with a password.
ALTER TABLE web_sessions ADD COLUMN methods TEXT NOT NULL DEFAULT 'password';
