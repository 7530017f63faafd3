-- 0004: tasks posted to the HTTP API. Stages: queued → acquiring → processing →
-- completed | failed. `follow` is the JSON list of what the task waits for (item keys of its
-- source, or result ids for run_model); total/done/failed are its progress counts.
CREATE TABLE tasks (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('backfill', 'ingest', 'run_model')),
    params      TEXT NOT NULL,
    stage       TEXT NOT NULL DEFAULT 'queued'
                CHECK (stage IN ('queued', 'acquiring', 'processing', 'completed', 'failed')),
    follow      TEXT NOT NULL DEFAULT '[]',
    total       INTEGER NOT NULL DEFAULT 0,
    done        INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX tasks_stage ON tasks (stage);
