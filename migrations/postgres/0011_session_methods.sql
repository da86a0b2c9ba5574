-- See ../0011_session_methods.sql.
ALTER TABLE web_sessions ADD COLUMN methods TEXT NOT NULL DEFAULT 'password';
