-- What groups of writes changed and the tables do not show yet: one row
-- per group (its changes as a JSON list), appended at commit and folded
-- into the tables about once a second (storage/sqlite/journal.rs). At
-- start-up, what is left here is folded in before the tables are read.
CREATE TABLE journal (
    seq INTEGER PRIMARY KEY,
    changes TEXT NOT NULL
);
