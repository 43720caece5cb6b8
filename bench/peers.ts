// Peer baselines for the throughput row: the same N `true` commands, 2 at a time, through
// `xargs -P2` and through task-spooler (`tsp`/`ts`, 2 slots, private socket and TMPDIR).
// Each returns jobs/s, or a skip reason when the tool is missing; nothing here talks to drover.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { now, sleep, pollUntil } from './lib.ts';

export interface PeerResult { name: string; jobsPerSec: number | null; seconds: number | null; note: string }

/** `seq N | xargs -P2 -I{} sh -c true`. */
export async function xargsThroughput(n: number): Promise<PeerResult> {
  const input = Array.from({ length: n }, (_, i) => `${i}\n`).join('');
  const t0 = now();
  const p = Bun.spawn(['xargs', '-P2', '-I{}', 'sh', '-c', 'true'], { stdin: new Blob([input]), stdout: 'ignore', stderr: 'pipe' });
  const code = await p.exited;
  const s = (now() - t0) / 1000;
  if (code !== 0) return { name: 'xargs -P2', jobsPerSec: null, seconds: s, note: `exit ${code}: ${await new Response(p.stderr).text()}` };
  return { name: 'xargs -P2', jobsPerSec: n / s, seconds: s, note: '' };
}

function tspBinary(): string | null {
  for (const b of ['tsp', 'ts']) {
    const r = Bun.spawnSync(['sh', '-c', `command -v ${b}`]);
    if (r.exitCode !== 0) continue;
    // `ts` may be moreutils' timestamp filter; task-spooler's answers -V with "Task Spooler".
    const v = Bun.spawnSync([b, '-V'], { env: { ...process.env, TS_SOCKET: '/nonexistent' } });
    if (`${v.stdout}${v.stderr}`.toLowerCase().includes('spooler')) return b;
  }
  return null;
}

/** task-spooler with 2 slots: enqueue N `true`, wait until none is queued or running. */
export async function tspThroughput(n: number, timeoutMs: number): Promise<PeerResult> {
  const bin = tspBinary();
  if (!bin) return { name: 'tsp -S 2', jobsPerSec: null, seconds: null, note: 'task-spooler not installed (apt-get install -y task-spooler)' };
  const dir = mkdtempSync(join(tmpdir(), 'drover-bench-tsp-'));
  const env = { ...process.env, TMPDIR: dir, TS_SOCKET: join(dir, 'socket'), TS_MAXFINISHED: String(n + 10) };
  const ts = (args: string[]) => Bun.spawn([bin, ...args], { env, stdout: 'pipe', stderr: 'ignore' });
  const tsText = async (args: string[]) => { const p = ts(args); const t = await new Response(p.stdout).text(); await p.exited; return t; };
  try {
    await ts(['-S', '2']).exited; // starts the private server
    const t0 = now();
    for (let i = 0; i < n; i++) await ts(['true']).exited;
    await ts(['-w']).exited; // the last in the queue; others may still run
    const list = await pollUntil(async () => {
      const l = await tsText(['-l']);
      return /\b(running|queued|allocating)\b/.test(l) ? null : l;
    }, timeoutMs, 20);
    const s = (now() - t0) / 1000;
    if (!list) return { name: `${bin} -S 2`, jobsPerSec: null, seconds: s, note: 'timed out' };
    const finished = list.split('\n').filter((l) => /\bfinished\b/.test(l));
    const ok = finished.filter((l) => /\bfinished\s+\S+\s+0\b/.test(l)).length;
    const note = finished.length === n && ok === n ? '' : `${ok}/${finished.length} finished with 0 of ${n}`;
    return { name: `${bin} -S 2`, jobsPerSec: n / s, seconds: s, note };
  } finally {
    await ts(['-K']).exited;
    await sleep(50);
    rmSync(dir, { recursive: true, force: true });
  }
}
