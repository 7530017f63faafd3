-- 0001: items, results, runs. Times are ISO 8601 UTC text; lease_until is Unix seconds.
CREATE TABLE items (
    id              INTEGER PRIMARY KEY,
    source          TEXT NOT NULL,
    key             TEXT NOT NULL,
    url             TEXT,
    captured_at     TEXT,
    metadata        TEXT NOT NULL DEFAULT '{}',
    processors      TEXT NOT NULL DEFAULT '[]',
    status          TEXT NOT NULL DEFAULT 'discovered'
                    CHECK (status IN ('discovered', 'downloading', 'downloaded', 'uploaded',
                                      'processing', 'processed', 'failed')),
    path            TEXT,
    bytes           INTEGER,
    sha256          TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    error_code      TEXT,
    last_error      TEXT,
    next_attempt_at REAL,
    lease_owner     TEXT,
    lease_until     REAL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (source, key)
);
CREATE INDEX items_claim ON items (status, lease_until);
CREATE INDEX items_source_status ON items (source, status);

CREATE TABLE results (
    id              INTEGER PRIMARY KEY,
    item_id         INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    processor       TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    lease_owner     TEXT,
    lease_until     REAL,
    output          TEXT,
    octas           INTEGER CHECK (octas BETWEEN 0 AND 8),
    cloud_fraction  REAL,
    model           TEXT,
    model_version   TEXT,
    duration_ms     REAL,
    error           TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (item_id, processor)
);
CREATE INDEX results_claim ON results (status, lease_until);

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,
    trigger     TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    status      TEXT NOT NULL DEFAULT 'running',
    total       INTEGER NOT NULL DEFAULT 0,
    new         INTEGER NOT NULL DEFAULT 0,
    duplicates  INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    error       TEXT
);
CREATE INDEX runs_source ON runs (source, started_at);
