-- Sign-in codes mailed to an inbox (src/db/email_codes.rs,
-- docs/sign-in-codes.md).
--
-- One live code per address (`email_key`): asking again replaces it. A code
-- is found only through the browser that asked for it (the SHA-256 of its
-- cookie), so one phished into another browser finds nothing. Only an HMAC
-- of the code is kept, keyed by a server secret (`server_secrets`,
-- `email_code_hmac`): eight digits are too few for a bare hash, which a
-- copy of the database could simply enumerate.
CREATE TABLE email_codes (
    browser_sha256 BLOB    PRIMARY KEY,
    email_key      TEXT    NOT NULL UNIQUE,
    -- The address as typed (normalised): where the code went.
    email          TEXT    NOT NULL,
    code_hmac      BLOB    NOT NULL,
    -- Where the person was going: a path of ours (checked when stored).
    return_to      TEXT,
    -- Tries so far, the right one included; none once it reaches the bound.
    attempts       INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER
) WITHOUT ROWID;
CREATE INDEX email_codes_expiry ON email_codes (expires_at);
