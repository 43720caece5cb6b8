-- v6: fan-out inside one run. A job made from a job-level matrix keeps its point (JSON axis -> value)
-- so the API, $DROVER_NEEDS and results show it without the spec; allow_failure: its failure does not
-- fail its stage (a sweep point allowed to fail).
ALTER TABLE jobs ADD COLUMN matrix TEXT;
ALTER TABLE jobs ADD COLUMN allow_failure INTEGER NOT NULL DEFAULT 0;
