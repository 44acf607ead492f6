-- The node that committed an outbox entry (a cluster's; always 0 here:
-- the embedded database has one process).
ALTER TABLE outbox ADD COLUMN node INTEGER NOT NULL DEFAULT 0;
