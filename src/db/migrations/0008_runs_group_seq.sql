-- v8: the runs list with each group collapsed into its newest run (GET /runs?collapse=group, the web
-- page) looks up max(seq) per group; this index makes that one seek instead of a scan of the group.
CREATE INDEX runs_group_seq ON runs(group_id, seq);
