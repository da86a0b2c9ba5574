-- A second factor for administrators (src/db/second_factors.rs,
-- docs/second-factor.md).
--
-- One authenticator app (TOTP, RFC 6238) per account. Its secret must be
-- kept to check codes, so it is stored as it is (the database file is the
-- owner's only, like the webhook secrets and signing keys beside it); it
-- is shown once, at enrolment, and never leaves the server again. Until a
-- code from it is typed back, `confirmed_at` is NULL and it counts for
-- nothing. `last_step` is the 30-second step of the last code accepted: a
-- code of that step or an earlier one is refused (replay). Wrong codes
-- (TOTP or recovery) are counted here, per account: `failures` within the
-- window that began at `failures_since`; past the bound, factor checks are
-- refused until `locked_until` (never the account's other sign-ins).
CREATE TABLE totp_factors (
    user_id        INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret         BLOB    NOT NULL,
    created_at     INTEGER NOT NULL,
    confirmed_at   INTEGER,
    last_step      INTEGER,
    failures       INTEGER NOT NULL DEFAULT 0,
    failures_since INTEGER,
    locked_until   INTEGER
);

-- Ten single-use recovery codes per account, made when the factor is
-- confirmed (and again on request): only their SHA-256 is stored (each
-- code carries 80 random bits). A used code keeps its row, marked.
CREATE TABLE recovery_codes (
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_sha256 BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    used_at     INTEGER,
    PRIMARY KEY (user_id, code_sha256)
);

-- When the session's holder last proved a second factor (TOTP, recovery
-- code, passkey): the console asks for one again before minting a key,
-- adding a webhook or changing a role when this is older than a few minutes.
ALTER TABLE web_sessions ADD COLUMN factor_at INTEGER;
