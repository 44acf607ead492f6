-- The journal moved out of the database into files of its own beside it
-- (journal-<n>.log, storage/sqlite/journal_file.rs): one line per group of
-- writes. Each fold records here, in its last transaction, the number of
-- the file it folded, so files up to it are done with (deleted, or left
-- by a crash before they were) and those after it are folded at
-- start-up. The `journal` table stays for what an older release left in
-- it, folded in at the first start.
CREATE TABLE journal_folded (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    through INTEGER NOT NULL
);
INSERT INTO journal_folded (id, through) VALUES (1, 0);
