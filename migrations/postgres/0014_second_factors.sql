-- A second factor for administrators: see ../0014_second_factors.sql.
CREATE TABLE totp_factors (
    user_id        BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret         BYTEA  NOT NULL,
    created_at     BIGINT NOT NULL,
    confirmed_at   BIGINT,
    last_step      BIGINT,
    failures       BIGINT NOT NULL DEFAULT 0,
    failures_since BIGINT,
    locked_until   BIGINT
);

CREATE TABLE recovery_codes (
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_sha256 BYTEA  NOT NULL,
    created_at  BIGINT NOT NULL,
    used_at     BIGINT,
    PRIMARY KEY (user_id, code_sha256)
);

ALTER TABLE web_sessions ADD COLUMN factor_at BIGINT;
