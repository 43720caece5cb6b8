// The checks of `drover doctor`: each looks at one part of an installation and returns findings
// (ok / warn / fail), every problem with the command or step that fixes it. Warnings do not fail the
// doctor (e.g. no GPU on a CPU machine); failures do. Reads only: it never changes the data dir.
// Test hooks (documented in docs/API.md): DROVER_MOUNTS_FILE stands in for /proc/mounts (simulate a
// data dir on NFS), DROVER_SLURM_PATH is where the Slurm clients are looked up (as the executor does).
// Not here: printing (cli/doctor.ts), the SQL (db/health.ts).
import { existsSync, statSync, statfsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { filesystemType, NETWORK_FS } from '../db/open.ts';
import { quickCheck } from '../db/health.ts';

export type Level = 'ok' | 'warn' | 'fail';
export interface Finding { check: Check; level: Level; message: string; fix?: string }
export const CHECKS = ['filesystem', 'space', 'database', 'clock', 'slurm', 'gpu', 'server', 'tokens'] as const;
export type Check = (typeof CHECKS)[number];

export interface DoctorInput {
  dataDir: string;
  /** the server URL, and whether something says a server should be there (--url, DROVER_URL, server.json) */
  url: string; urlExpected: boolean;
  token?: string; tokenFile?: string;
  /** where sbatch/squeue/sacct are looked up (DROVER_SLURM_PATH, else PATH) */
  slurmPath: string;
  path: string;
  version: string;
  skip: ReadonlySet<Check>;
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const ok = (check: Check, message: string): Finding => ({ check, level: 'ok', message });
const warn = (check: Check, message: string, fix?: string): Finding => ({ check, level: 'warn', message, fix });
const fail = (check: Check, message: string, fix?: string): Finding => ({ check, level: 'fail', message, fix });
const firstLine = (s: string) => s.split('\n').map((l) => l.trim()).find(Boolean) ?? '';

/** The data dir, or the nearest folder above it that exists (before the first serve creates it). */
function nearestExisting(dir: string): string {
  let d = dir;
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  return d;
}

function filesystem(i: DoctorInput): Finding[] {
  const type = filesystemType(i.dataDir);
  const where = existsSync(i.dataDir) ? i.dataDir : `${nearestExisting(i.dataDir)} (the data dir does not exist yet)`;
  if (type && NETWORK_FS.has(type)) {
    return [fail('filesystem', `the data dir ${where} is on ${type}: SQLite's WAL can corrupt the database on a network filesystem, and serve refuses it without --allow-network-fs`,
      'use a local disk: drover serve --data-dir /tmp/$USER/drover (or node-local scratch)')];
  }
  return [ok('filesystem', `${type ?? 'unknown filesystem'} at ${where}`)];
}

function space(i: DoctorInput): Finding[] {
  const dir = nearestExisting(i.dataDir);
  let s;
  try { s = statfsSync(dir); } catch (err) { return [warn('space', `cannot read the free space of ${dir}: ${String(err)}`)]; }
  const free = s.bavail * s.bsize;
  const total = s.blocks * s.bsize;
  const text = `${(free / GiB).toFixed(1)} GiB free of ${(total / GiB).toFixed(1)} GiB at ${dir}`;
  const fix = 'free space on that disk, remove old runs (drover gc, --retention-max-age), or move --data-dir';
  if (free < 512 * MiB) return [fail('space', `${text}: writes will soon fail (503 storage_unavailable)`, fix)];
  if (free < 5 * GiB || free < total * 0.05) return [warn('space', `${text}: running low`, fix)];
  return [ok('space', text)];
}

function database(i: DoctorInput): Finding[] {
  const file = join(i.dataDir, 'drover.db');
  if (!existsSync(file)) return [ok('database', `no database yet (${file}); the first drover serve creates it`)];
  const fix = `stop the server, keep a copy of ${file}, then rebuild it: sqlite3 ${file} .recover | sqlite3 recovered.db`;
  try {
    const res = quickCheck(file);
    if (res.length === 1 && res[0] === 'ok') return [ok('database', `PRAGMA quick_check: ok (${file})`)];
    return [fail('database', `PRAGMA quick_check found ${res.length} problem(s) in ${file}: ${res.slice(0, 3).join('; ')}`, fix)];
  } catch (err) {
    return [fail('database', `cannot check ${file}: ${String(err)}`, fix)];
  }
}

async function run(argv: string[], timeoutMs = 10_000): Promise<{ ok: boolean; out: string; err: string }> {
  const p = Bun.spawn(argv, { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', env: process.env as Record<string, string> });
  const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { ok: code === 0, out, err: p.signalCode ? `killed after ${timeoutMs} ms` : err };
}

async function slurm(i: DoctorInput): Promise<Finding[]> {
  const install = 'install the Slurm client (Debian: apt-get install slurm-client) with SLURM_CONF naming your cluster, or set DROVER_SLURM_PATH; on a machine without Slurm: drover doctor --skip slurm';
  const probes: [cmd: string, args: string[], needed: boolean, what: string][] = [
    ['sbatch', ['--version'], true, 'runs'],
    ['squeue', ['--noheader', '--format=%i', '--me'], true, 'the controller answers'],
    ['sacct', ['--noheader', '-X', '--format=JobID', '--starttime=now-1hours'], false, 'accounting answers'],
  ];
  return Promise.all(probes.map(async ([cmd, args, needed, what]) => {
    const bad = needed ? fail : warn;
    const bin = Bun.which(cmd, { PATH: i.slurmPath });
    if (!bin) return bad('slurm', `${cmd} is not installed (looked in ${i.slurmPath})${needed ? ': the slurm executor is off' : ': finished jobs are read from the marker line instead'}`, install);
    const r = await run([bin, ...args]);
    if (!r.ok) return bad('slurm', `${cmd} does not work: ${firstLine(r.err || r.out) || 'no output'}`, cmd === 'sacct' ? 'enable accounting (slurmdbd) for exact exit codes and states, or ignore this: drover falls back to the marker line' : 'check SLURM_CONF, munge and that slurmctld is up (scontrol ping)');
    return ok('slurm', `${cmd}: ${what} (${bin})`);
  }));
}

async function gpu(i: DoctorInput): Promise<Finding[]> {
  const bin = Bun.which('nvidia-smi', { PATH: i.path });
  if (!bin) return [warn('gpu', 'nvidia-smi is not installed: the gpu executor runs jobs on CPU (resources.fallback) or fails them', 'install the NVIDIA driver; on a machine without GPUs: drover doctor --skip gpu')];
  const r = await run([bin, '--query-gpu=index,name', '--format=csv,noheader']);
  if (!r.ok && /no devices were found/i.test(r.out + r.err)) return [warn('gpu', 'nvidia-smi finds no GPU: gpu jobs run on CPU (resources.fallback) or fail', 'check the NVIDIA driver; on a machine without GPUs: drover doctor --skip gpu')];
  if (!r.ok) return [fail('gpu', `nvidia-smi fails: ${firstLine(r.out || r.err)}`, 'check the NVIDIA driver: nvidia-smi should list the GPUs')];
  const n = r.out.split('\n').filter((l) => l.trim()).length;
  return [ok('gpu', `nvidia-smi lists ${n} GPU(s)`)];
}

async function server(i: DoctorInput, clock: { skewMs: number | null }): Promise<Finding[]> {
  let res: Response;
  try {
    res = await fetch(`${i.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
  } catch (err) {
    const msg = `no server answers at ${i.url} (${(err as Error).message})`;
    return [i.urlExpected ? fail('server', msg, `start it: drover serve --data-dir ${i.dataDir} (a stale server.json is replaced at start)`)
      : warn('server', `${msg}; none is expected (no server.json in ${i.dataDir})`, `start one: drover serve --data-dir ${i.dataDir}`)];
  }
  const date = res.headers.get('date');
  if (date) clock.skewMs = Date.now() - Date.parse(date);
  const body = await res.json().catch(() => null) as { version?: string } | null;
  if (!res.ok || !body?.version) return [fail('server', `${i.url}/healthz answers ${res.status}, not a drover server`, 'check --url / DROVER_URL')];
  const out: Finding[] = [body.version === i.version ? ok('server', `drover ${body.version} answers at ${i.url}`)
    : warn('server', `the server at ${i.url} runs drover ${body.version}, this CLI is ${i.version}`, 'restart the server with the new binary')];
  const auth = await fetch(`${i.url}/api/v1/queue`, { headers: i.token ? { authorization: `Bearer ${i.token}` } : {}, signal: AbortSignal.timeout(5_000) }).catch(() => null);
  if (!auth) out.push(fail('server', `${i.url}/api/v1/queue does not answer`, 'check the server log'));
  else if (auth.status === 401 || auth.status === 403) out.push(fail('server', `the token ${i.tokenFile ? `in ${i.tokenFile}` : 'used'} is not accepted (${auth.status})`, `use the admin token in ${join(i.dataDir, 'admin.token')}, or ask an admin: drover token create --role user`));
  else out.push(ok('server', 'the token is accepted'));
  return out;
}

function clockCheck(skewMs: number | null): Finding[] {
  const fix = 'synchronise the clock (NTP: timedatectl set-ntp true, or chrony)';
  if (Date.now() < Date.parse('2024-01-01T00:00:00Z')) return [fail('clock', `the system clock says ${new Date().toISOString()}`, fix)];
  if (skewMs === null) return [ok('clock', `system clock ${new Date().toISOString()} (no server to compare with)`)];
  const s = Math.abs(skewMs) / 1000;
  if (s > 5) return [warn('clock', `this machine and the server differ by ${s.toFixed(1)} s: leases, deadlines and schedules use wall time`, fix)];
  return [ok('clock', `within ${Math.max(1, Math.ceil(s))} s of the server's clock`)];
}

function tokens(i: DoctorInput): Finding[] {
  const out: Finding[] = [];
  const me = process.getuid?.();
  const files = [join(i.dataDir, 'admin.token'), join(i.dataDir, 'secrets.key'), ...(i.tokenFile ? [i.tokenFile] : [])];
  for (const f of files) {
    let st;
    try { st = statSync(f); } catch { continue; }
    const mode = (st.mode & 0o777).toString(8).padStart(3, '0');
    if (st.mode & 0o077) out.push(fail('tokens', `${f} has mode ${mode}: other users can read a credential`, `chmod 600 ${f}`));
    else if (me !== undefined && st.uid !== me) out.push(warn('tokens', `${f} belongs to uid ${st.uid}, not to you (uid ${me})`, `chown $(id -u) ${f}`));
    else out.push(ok('tokens', `${f}: mode ${mode}`));
  }
  if (existsSync(i.dataDir) && statSync(i.dataDir).mode & 0o077) {
    out.push(warn('tokens', `the data dir ${i.dataDir} is open to other users (mode ${(statSync(i.dataDir).mode & 0o777).toString(8)}); it holds logs and results`, `chmod 700 ${i.dataDir}`));
  }
  if (!out.length) out.push(ok('tokens', `no token files yet in ${i.dataDir}`));
  return out;
}

export async function runChecks(i: DoctorInput): Promise<Finding[]> {
  const on = (c: Check) => !i.skip.has(c);
  const clock = { skewMs: null as number | null };
  const [srv, sl, gp] = await Promise.all([
    on('server') || on('clock') ? server(i, clock) : [],
    on('slurm') ? slurm(i) : [],
    on('gpu') ? gpu(i) : [],
  ]);
  return [
    ...(on('filesystem') ? filesystem(i) : []), ...(on('space') ? space(i) : []), ...(on('database') ? database(i) : []),
    ...(on('clock') ? clockCheck(clock.skewMs) : []), ...sl, ...gp, ...(on('server') ? srv : []), ...(on('tokens') ? tokens(i) : []),
  ];
}
