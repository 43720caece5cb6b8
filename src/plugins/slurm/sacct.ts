// sacct for jobs that have left squeue (purged after MinJobAge, e.g. while the server was down): one call
// per poll for all of them, allocations only (-X), the latest run of a requeued job (no -D). Tells apart
// "accounting is not there" (missing binary, accounting_storage/none: use the runner's files) from
// "accounting is down for now" (slurmdbd unreachable: wait and retry, never guess).

export type Accounting = 'unknown' | 'ok' | 'off' | 'missing' | 'down';

export function sacctArgs(ids: readonly string[]): string[] {
  return ['--noheader', '--parsable2', '--allocations', `--jobs=${ids.join(',')}`, '--format=JobID,State,ExitCode'];
}

export interface SacctRow { key: string; state: string; exitCode: number | null; signal: number | null }

export function parseSacct(stdout: string): Map<string, SacctRow> {
  const rows = new Map<string, SacctRow>();
  for (const line of stdout.split('\n')) {
    const f = line.trim().split('|');
    if (f.length < 3 || !/^\d+(_\d+)?$/.test(f[0]!)) continue;
    const m = /^(\d+):(\d+)$/.exec(f[2]!.trim());
    rows.set(f[0]!, { key: f[0]!, state: f[1]!.trim(), exitCode: m ? Number(m[1]) : null, signal: m ? Number(m[2]) : null });
  }
  return rows;
}

/** What a failed sacct call says about accounting. */
export function accountingFromFailure(r: { missing: boolean; stderr: string }): Accounting {
  if (r.missing) return 'missing';
  if (/accounting storage is disabled|accounting_storage\/none/i.test(r.stderr)) return 'off';
  return 'down';
}
