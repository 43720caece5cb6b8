// A run's folder and its run.json (what was submitted: ids, params, trigger and the spec). Made at
// submit for a run or the first EAGER_FOLDERS runs of a sweep; the rest by the scheduler afterwards
// (scheduler/run-folders.ts), so that a 100,000-run sweep is answered without 100,000 folders first.
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** runs of one submission whose folders exist before the answer (the rest: folder_pending) */
export const EAGER_FOLDERS = 1000;

export interface RunJsonFields { id: string; pipeline: string; version: number; groupId: string; params: string; trigger: string; createdAt: string }

/** A sweep's runs share one spec: run.json keeps the spec without the matrix (which would make the
 *  folders of an N-run sweep grow with N²) plus the run's own resolved params. */
export function specSnapshot(raw: unknown): unknown {
  if (!raw || typeof raw !== 'object' || !('matrix' in raw)) return raw;
  const { matrix, ...rest } = raw as { matrix: Record<string, unknown[]> };
  return { ...rest, matrix_keys: Object.keys(matrix ?? {}) };
}

/** run.json's text (`params` and `trigger` as JSON text, `snapshot` the spec's). */
export function runJsonText(f: RunJsonFields, snapshot: string): string {
  return `{"id":${JSON.stringify(f.id)},"pipeline":${JSON.stringify(f.pipeline)},"pipeline_version":${f.version},"group_id":${JSON.stringify(f.groupId)},"params":${f.params},"trigger":${f.trigger},"created_at":"${f.createdAt}","spec":${snapshot}}\n`;
}

const FOLDER = { recursive: true, mode: 0o700 } as const;
const RUN_JSON = { mode: 0o600 } as const;

/** Make the folder and write its run.json. */
export function writeRunFolder(dir: string, runJson: string): void {
  mkdirSync(dir, FOLDER);
  writeFileSync(join(dir, 'run.json'), runJson, RUN_JSON);
}

/** The same off the main thread (the scheduler's folder pump writes a batch at once). */
export async function writeRunFolderAsync(dir: string, runJson: string): Promise<void> {
  await mkdir(dir, FOLDER);
  await writeFile(join(dir, 'run.json'), runJson, RUN_JSON);
}
