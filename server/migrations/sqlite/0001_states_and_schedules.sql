-- Managed state of the bus: one row per state, with the version that
-- optimistic concurrency checks.
CREATE TABLE states (
    state_type TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (state_type, id)
);

-- Pending scheduled events (turn timeouts, cleanups).
CREATE TABLE schedules (
    id TEXT PRIMARY KEY,
    schedule_key TEXT NOT NULL,
    due_at_ms INTEGER NOT NULL,
    updates_every_ms INTEGER,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX schedules_by_key ON schedules (schedule_key);

-- Session tokens; a user belongs to one session.
CREATE TABLE sessions (
    token TEXT PRIMARY KEY,
    user_id TEXT NOT NULL UNIQUE
);
