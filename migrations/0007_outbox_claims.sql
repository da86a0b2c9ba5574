-- When a PostgreSQL node's claim on a due message ends (see
-- src/db/outbox.rs, claim_due). Kept apart from next_attempt_at, which stays
-- the message's schedule. SQLite's one server never claims: always NULL here.
ALTER TABLE outbox ADD COLUMN claimed_until INTEGER;
