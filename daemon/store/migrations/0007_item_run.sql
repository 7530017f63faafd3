-- 0007: the run that last queued an item (inserted, requeued or carried on), so a run can
-- say what became of its items once they settle (downloaded, failed, waiting to retry).
ALTER TABLE items ADD COLUMN run_id INTEGER;
CREATE INDEX items_run ON items (run_id) WHERE run_id IS NOT NULL;
