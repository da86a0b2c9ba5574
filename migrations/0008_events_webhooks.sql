-- The event log (src/db/events.rs): one row per change, written in the
-- change's own transaction. `id` orders the log and is the audit cursor;
-- `body` is the event's JSON exactly as the audit log lists it and as
-- webhook deliveries send (and sign) it.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    uuid        TEXT    NOT NULL UNIQUE,
    org_id      INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    type        TEXT    NOT NULL,
    occurred_at INTEGER NOT NULL,
    body        TEXT    NOT NULL
);
-- Newest first per organization, with or without a type filter.
CREATE INDEX events_org ON events (org_id, id);
CREATE INDEX events_org_type ON events (org_id, type, id);
-- Retention prunes the oldest.
CREATE INDEX events_occurred ON events (occurred_at);

-- Webhook endpoints (src/db/webhooks.rs). `event_types` is `,a,b,` for the
-- types wanted, or empty for every type. The secrets sign deliveries, so
-- they are kept as issued (a hash could not sign).
CREATE TABLE webhook_endpoints (
    id                    INTEGER PRIMARY KEY,
    org_id                INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    url                   TEXT    NOT NULL,
    event_types           TEXT    NOT NULL,
    enabled               INTEGER NOT NULL,
    description           TEXT    NOT NULL DEFAULT '',
    secret                TEXT    NOT NULL,
    previous_secret       TEXT,
    previous_secret_until INTEGER,
    failing_since         INTEGER,
    -- Until when a worker is delivering to it (one delivery in flight per
    -- endpoint, across nodes); NULL when none is.
    delivering_until      INTEGER,
    disabled_reason       TEXT,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (org_id, id);

-- The delivery queue: one row per (endpoint, event), written with the event.
-- An endpoint's oldest pending delivery is the only one sent (order per
-- endpoint), so the pending index leads with the endpoint.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    endpoint_id     INTEGER NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_id        INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER,
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (endpoint_id, id)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

-- Every attempt, for `GET …/webhooks/{id}/deliveries`.
CREATE TABLE webhook_attempts (
    id              INTEGER PRIMARY KEY,
    delivery_id     INTEGER NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    endpoint_id     INTEGER NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    attempt         INTEGER NOT NULL,
    attempted_at    INTEGER NOT NULL,
    outcome         TEXT    NOT NULL CHECK (outcome IN ('delivered', 'retrying', 'failed')),
    response_status INTEGER,
    duration_ms     INTEGER NOT NULL,
    error           TEXT,
    next_attempt_at INTEGER
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id);

-- Expiry reminders (invitations.reminder_before): when a pending
-- invitation's one reminder is due; NULL once sent, or when none is due.
ALTER TABLE invitations ADD COLUMN remind_at INTEGER;
CREATE INDEX invitations_remind ON invitations (remind_at) WHERE remind_at IS NOT NULL;
-- A reminder not sent yet is withdrawn when its invitation moves on.
CREATE INDEX outbox_unsent_reminders ON outbox (invitation_id)
    WHERE kind = 'reminder' AND sent_at IS NULL AND failed_at IS NULL;
