-- 0006: the process that runs a run (host:pid:run, as lease owners), so a run whose process
-- was killed is closed as 'interrupted' at the next start instead of staying 'running'.
-- Rows from before this column have no owner: they are closed here (no process can finish them).
ALTER TABLE runs ADD COLUMN owner TEXT;
UPDATE runs SET status = 'interrupted', finished_at = COALESCE(finished_at, started_at),
    error = 'its process ended without closing the run (before schema 6)'
    WHERE status = 'running';
