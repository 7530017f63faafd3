-- N daemons on one store (issue 15): each node's heartbeat, and which node took a source's
-- scheduled run (one node per fire of the schedule; the others skip it).
CREATE TABLE IF NOT EXISTS nodes (
    name        TEXT PRIMARY KEY,
    host        TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    version     TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    seen_at     REAL NOT NULL,
    stopped_at  TEXT
);
CREATE TABLE IF NOT EXISTS schedule_claims (
    source      TEXT PRIMARY KEY,
    node        TEXT NOT NULL,
    claimed_at  REAL NOT NULL
);
