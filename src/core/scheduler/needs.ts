// Fan-in: the document a job finds at $DROVER_NEEDS. For each stage its stage needs: the stage's status
// and outputs (as the API shows them), and every job of it — name, matrix point, status, exit code and
// outputs — so a merge job after a job-level matrix reads every sweep point's results in one file.
// prepare.ts writes it beside job.sh; a remote agent writes the copy its claim carries.
import { openSync, writeSync, closeSync, rmSync, constants } from 'node:fs';
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

// (O_NOFOLLOW: a link an earlier attempt left in its place is replaced, never written through)
const WRITE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;

/** needs.json, written before the job starts (its only reader is the job, so no temporary file and
 *  rename: a start that died half-way is never run, and the next try writes it again). */
export function writeNeedsFile(dir: string, doc: NeedsDoc): void {
  const file = join(dir, 'needs.json');
  const text = JSON.stringify(doc);
  let fd: number;
  try {
    fd = openSync(file, WRITE_NEW, 0o600);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ELOOP') throw err;
    rmSync(file);
    fd = openSync(file, WRITE_NEW, 0o600);
  }
  try { writeSync(fd, text); } finally { closeSync(fd); }
}
