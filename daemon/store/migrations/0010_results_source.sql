-- 0010: results carry their item's source, so counts per source (harvestd status,
-- /api/queues/status) read one covering index instead of joining every result to its item
-- (issue 13: 75 ms at 100,000 results; the join was most of it).
ALTER TABLE results ADD COLUMN source TEXT;
UPDATE results SET source = (SELECT source FROM items WHERE items.id = results.item_id);
CREATE INDEX results_counts ON results (source, processor, status, item_id);
