// Fan-in: the document a job finds at $DROVER_NEEDS. For each stage its stage needs: the stage's status
// and outputs (as the API shows them), and every job of it — name, matrix point, status, exit code and
// outputs — so a merge job after a job-level matrix reads every sweep point's results in one file.
// prepare.ts writes it beside job.sh; a remote agent writes the copy its claim carries.
import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Store } from '../ports.ts';
import type { StageRow } from '../types.ts';

export interface NeedsJob { id: string; name: string; matrix: Record<string, unknown> | null; status: string; exit_code: number | null; reason: string | null; outputs: Record<string, string> }
export interface NeedsStage { status: string; outputs: Record<string, unknown>; jobs: NeedsJob[] }
export type NeedsDoc = Record<string, NeedsStage>;

const parse = <T>(s: string | null, empty: T): T => (s ? JSON.parse(s) as T : empty);

/** The needs document of a job of a stage that needs `needs` (stage names), from the run's stage rows. */
export function needsDoc(store: Pick<Store, 'jobsOfStage'>, stages: StageRow[], needs: readonly string[]): NeedsDoc {
  const doc: NeedsDoc = {};
  for (const s of stages) {
    if (!needs.includes(s.name)) continue;
    doc[s.name] = {
      status: s.status,
      outputs: parse(s.outputs, {}),
      jobs: store.jobsOfStage(s.id).map((j) => ({
        id: j.id, name: j.name, matrix: parse(j.matrix, null), status: j.status, exit_code: j.exit_code, reason: j.reason, outputs: parse(j.outputs, {}),
      })),
    };
  }
  return doc;
}

/** needs.json via a temporary file and rename: a reader never sees half of it. */
export function writeNeedsFile(dir: string, doc: NeedsDoc): void {
  const tmp = join(dir, '.needs.json.tmp');
  writeFileSync(tmp, JSON.stringify(doc), { mode: 0o600 });
  renameSync(tmp, join(dir, 'needs.json'));
}
