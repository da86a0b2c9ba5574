-- When a node's claim on a due message ends (src/db/outbox.rs, claim_due):
-- until then no other node takes it; a node that dies holding it leaves it
-- to the others afterwards. Kept apart from next_attempt_at, the schedule.
ALTER TABLE outbox ADD COLUMN claimed_until BIGINT;
