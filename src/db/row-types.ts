// The core's row shapes (core/types.ts, which may not import drizzle) are checked here against the
// rows drizzle infers from the schema: a column added to one and not the other fails `tsc` (the
// typecheck test runs it), and the migrations are checked against the schema (tests/db/migrations).
import type * as t from './schema.ts';
import type { GroupRow, RunRow, StageRow, JobRow, CommandRow, AttemptRow, TokenRow, PipelineRow, DaemonRow } from '../core/types.ts';

type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;

export const ROW_TYPES_MATCH_SCHEMA: [
  Same<GroupRow, typeof t.groups.$inferSelect>,
  Same<RunRow, typeof t.runs.$inferSelect>,
  Same<StageRow, typeof t.stages.$inferSelect>,
  Same<JobRow, typeof t.jobs.$inferSelect>,
  Same<CommandRow, typeof t.commands.$inferSelect>,
  Same<AttemptRow, typeof t.attempts.$inferSelect>,
  Same<TokenRow, typeof t.tokens.$inferSelect>,
  Same<PipelineRow, typeof t.pipelines.$inferSelect>,
  Same<DaemonRow, typeof t.daemon.$inferSelect>,
] = [true, true, true, true, true, true, true, true, true];
