-- Sign-in codes mailed to an inbox: see ../0013_email_codes.sql.
CREATE TABLE email_codes (
    browser_sha256 BYTEA   PRIMARY KEY,
    email_key      TEXT    NOT NULL UNIQUE,
    email          TEXT    NOT NULL,
    code_hmac      BYTEA   NOT NULL,
    return_to      TEXT,
    attempts       BIGINT  NOT NULL DEFAULT 0,
    created_at     BIGINT  NOT NULL,
    expires_at     BIGINT  NOT NULL,
    used_at        BIGINT
);
CREATE INDEX email_codes_expiry ON email_codes (expires_at);
