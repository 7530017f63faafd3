-- 0011: geo model tasks (POST /api/run-model): bounding boxes → satellite chips → model.
-- Adds the kind 'geo_model', its stages 'data_processing' and 'model_prediction' (the
-- InstaGeo backend's status values), `plan` (JSON: the scenes chosen per bbox/step/chip,
-- written once after the STAC searches), `detail` (JSON: per-stage, per-bbox and per-step
-- progress and errors) and a lease (`lease_owner`, `lease_until` Unix seconds): one process
-- at a time advances a geo task (the daemon or `harvestd geo-task`). SQLite cannot change a
-- CHECK in place: the table is rebuilt, rows and ids kept.
CREATE TABLE tasks_new (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('backfill', 'ingest', 'run_model', 'geo_model')),
    params      TEXT NOT NULL,
    stage       TEXT NOT NULL DEFAULT 'queued'
                CHECK (stage IN ('queued', 'acquiring', 'processing', 'data_processing',
                                 'model_prediction', 'completed', 'failed')),
    follow      TEXT NOT NULL DEFAULT '[]',
    total       INTEGER NOT NULL DEFAULT 0,
    done        INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    plan        TEXT NOT NULL DEFAULT '{}',
    detail      TEXT NOT NULL DEFAULT '{}',
    lease_owner TEXT,
    lease_until REAL
);
INSERT INTO tasks_new (id, kind, params, stage, follow, total, done, failed, error, created_at, updated_at)
    SELECT id, kind, params, stage, follow, total, done, failed, error, created_at, updated_at FROM tasks;
DROP TABLE tasks;
ALTER TABLE tasks_new RENAME TO tasks;
CREATE INDEX tasks_stage ON tasks (stage);
