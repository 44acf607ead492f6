-- The schema version each state and schedule was written at, so a later
-- release can read an older shape (outbox effects carry theirs in their
-- JSON). Rows written before this migration are version 1.
ALTER TABLE states ADD COLUMN schema_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE schedules ADD COLUMN schema_version INTEGER NOT NULL DEFAULT 1;

-- Stored effects a release could not read at start, kept with the reason
-- for an operator (nothing is dropped): a schedule is moved here, an
-- outbox effect copied (its entry finishes without it).
CREATE TABLE set_aside (
    source TEXT NOT NULL,
    source_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    effect_type TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    payload TEXT NOT NULL,
    reason TEXT NOT NULL,
    set_aside_at_ms INTEGER NOT NULL,
    PRIMARY KEY (source, source_id, position)
);
