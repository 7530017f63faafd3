-- 0012: operator controls (the dashboard's and `harvestd pause`/`resume`'s), kept across
-- restarts: `scope` is 'downloads' or 'source:NAME'; a row means paused. The gallery pages
-- items of a source newest first: an index on (source, captured_at).
CREATE TABLE IF NOT EXISTS controls (
    scope      TEXT PRIMARY KEY,
    paused_at  TEXT NOT NULL,
    paused_by  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS items_source_captured ON items (source, captured_at);
