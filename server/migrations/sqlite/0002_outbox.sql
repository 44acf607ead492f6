-- Effects a handler emitted, committed with its result; an entry is
-- deleted once every handler its effects reach has run.
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    effects TEXT NOT NULL
);

-- Which handler already ran which effect of an entry (its position), so
-- that republishing after a crash skips it.
CREATE TABLE deliveries (
    entry TEXT NOT NULL,
    position INTEGER NOT NULL,
    handler INTEGER NOT NULL,
    PRIMARY KEY (entry, position, handler)
);
