-- Cluster mode: the nodes alive (each refreshes its row; a row not
-- refreshed for the grace period is a dead node's, cleaned up by another).
CREATE TABLE nodes (
    node BIGINT PRIMARY KEY,
    seen_at_ms BIGINT NOT NULL
);

-- Which node committed an outbox entry: its own to publish while it lives,
-- a surviving node's once it is dead. Entries from before are node 0.
ALTER TABLE outbox ADD COLUMN node BIGINT NOT NULL DEFAULT 0;
CREATE INDEX outbox_by_node ON outbox (node);

-- A due schedule is claimed by the node that fires it, for a lease: one
-- node fires it, and another does if that one dies before it is done.
ALTER TABLE schedules ADD COLUMN claimed_by BIGINT;
ALTER TABLE schedules ADD COLUMN claimed_until_ms BIGINT;
CREATE INDEX schedules_by_due ON schedules (due_at_ms);
