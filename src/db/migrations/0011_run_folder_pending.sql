-- v11: a big sweep is answered before all its run folders exist: the runs beyond the first ones are
-- written with folder_pending = 1 and the scheduler makes their folders (run.json) afterwards, before
-- any of their jobs may start (why: run_folder_pending). A restart finishes what a crash left.
ALTER TABLE runs ADD COLUMN folder_pending INTEGER NOT NULL DEFAULT 0;
CREATE INDEX runs_folder_pending ON runs(seq) WHERE folder_pending = 1;
