-- 0002: expected checksums per item and live transfer progress (aria2c controller).
-- checksum is in aria2's form, e.g. "sha-256=<hex>" or "md5=<hex>" (aria2c(1) --checksum).
ALTER TABLE items ADD COLUMN checksum TEXT;

-- One row per item being downloaded right now; written by the downloader every few
-- seconds, deleted when the item leaves 'downloading'. Bytes and bytes/second.
CREATE TABLE transfers (
    item_id         INTEGER PRIMARY KEY REFERENCES items (id) ON DELETE CASCADE,
    gid             TEXT NOT NULL,
    state           TEXT NOT NULL,
    completed_bytes INTEGER NOT NULL DEFAULT 0,
    total_bytes     INTEGER NOT NULL DEFAULT 0,
    speed_bps       INTEGER NOT NULL DEFAULT 0,
    connections     INTEGER NOT NULL DEFAULT 0,
    updated_at      TEXT NOT NULL
);
