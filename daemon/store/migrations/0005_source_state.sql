-- 0005: small per-source state a source keeps between runs (e.g. slooh's high-water marks:
-- where the last complete walk of a newest-first list started). value is JSON.
CREATE TABLE source_state (
    source      TEXT NOT NULL,
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (source, name)
) WITHOUT ROWID;
CREATE INDEX items_source_updated ON items (source, status, updated_at);
