-- 0009: claims read only what they take (issue 13). A claim asks for the oldest pending rows;
-- with an OR over two statuses and ORDER BY, SQLite walked every result (SCAN results) or
-- sorted every discovered item, per claim. Each branch now has an index in claim order: the
-- rowid follows the indexed columns, so "status = 'pending' ORDER BY id" and "status =
-- 'discovered' ORDER BY captured_at, id" read the first LIMIT entries and stop.
CREATE INDEX results_status ON results (status);
CREATE INDEX items_discovered ON items (captured_at) WHERE status = 'discovered';
