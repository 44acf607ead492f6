-- Managed state of the bus: one row per state, with the version that
-- optimistic concurrency checks.
CREATE TABLE states (
    state_type TEXT NOT NULL,
    id TEXT NOT NULL,
    version BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (state_type, id)
);

-- Pending scheduled events (turn timeouts, cleanups).
CREATE TABLE schedules (
    id TEXT PRIMARY KEY,
    schedule_key TEXT NOT NULL,
    due_at_ms BIGINT NOT NULL,
    updates_every_ms BIGINT,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX schedules_by_key ON schedules (schedule_key);

-- Session tokens; a user belongs to one session.
CREATE TABLE sessions (
    token TEXT PRIMARY KEY,
    user_id TEXT NOT NULL UNIQUE
);

-- Effects a handler emitted, committed with its result; an entry is
-- deleted once every handler its effects reach has run.
CREATE TABLE outbox (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    effects TEXT NOT NULL
);

-- Which handler already ran which effect of an entry (its position), so
-- that republishing after a crash skips it.
CREATE TABLE deliveries (
    entry TEXT NOT NULL,
    position BIGINT NOT NULL,
    handler BIGINT NOT NULL,
    PRIMARY KEY (entry, position, handler)
);
