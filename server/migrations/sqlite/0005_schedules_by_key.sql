-- Pending schedules in one B-tree keyed by (schedule_key, id), with no
-- rowid. A move cancels its game's turn timer and sets the next one, under
-- the same key: that now changes one page of the table (and the end of
-- the index by id, whose ids are time-ordered), where a table with a rowid
-- and two indexes changed four or five, each a frame the WAL writes.
CREATE TABLE schedules_keyed (
    schedule_key TEXT NOT NULL,
    id TEXT NOT NULL,
    due_at_ms INTEGER NOT NULL,
    updates_every_ms INTEGER,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    schema_version INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (schedule_key, id)
) WITHOUT ROWID;
INSERT INTO schedules_keyed
    (schedule_key, id, due_at_ms, updates_every_ms, event_type, payload, schema_version)
    SELECT schedule_key, id, due_at_ms, updates_every_ms, event_type, payload, schema_version
    FROM schedules;
DROP TABLE schedules;
ALTER TABLE schedules_keyed RENAME TO schedules;
CREATE UNIQUE INDEX schedules_by_id ON schedules (id);
