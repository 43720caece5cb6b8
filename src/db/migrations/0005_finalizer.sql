-- v5: the finalization marker. A job whose end takes more than one transaction to apply (its
-- redacted log is still draining) is owned by one finalizer: its token, when it took the job
-- (since) and until when it holds it unless renewed (until). A job leaving `running` clears them.
ALTER TABLE jobs ADD COLUMN final_token TEXT;
ALTER TABLE jobs ADD COLUMN final_since INTEGER;
ALTER TABLE jobs ADD COLUMN final_until INTEGER;
CREATE INDEX jobs_finalizing ON jobs (final_since) WHERE final_token IS NOT NULL;
