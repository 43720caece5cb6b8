-- v6: a group's cancel intent lives in the database (it decides the group's final status in the
-- roll-up, so a restart between the cancel and the last run's end must not change the outcome).
ALTER TABLE groups ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
