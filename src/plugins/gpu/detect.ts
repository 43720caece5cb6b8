// GPU detection: asks `nvidia-smi` (then `rocm-smi`) which GPUs this machine has, with their name,
// memory and utilisation, in ONE call for all GPUs (the same call serves telemetry). The result is an
// Inventory: the usable GPUs (after the server's own CUDA_VISIBLE_DEVICES and --gpu-slots), or none
// with a reason: `no_gpu_detected` (no tool, or a tool that lists nothing) or
// `nvidia_smi_failed: <why>` (the tool exists but failed or printed something we cannot read).
// Parsing is pure (unit-tested); running the tools goes through a Runner so tests can fake it.
// Not here: which GPU a job gets (allocate.ts) or what the executor does with it (index.ts).

export interface GpuInfo {
  index: number;
  uuid: string;
  name: string;
  memory_total_mib: number | null;
  memory_used_mib: number | null;
  utilization_pct: number | null;
  vendor: 'nvidia' | 'amd';
}

export interface Inventory {
  /** the GPUs jobs may be given (visible and within --gpu-slots), by index */
  gpus: GpuInfo[];
  /** every GPU the tool listed, before CUDA_VISIBLE_DEVICES / --gpu-slots */
  detected: number;
  /** null when `gpus` is not empty; else why there are none */
  reason: string | null;
  /** a longer human explanation of `reason` (stderr of the tool…) */
  detail: string | null;
  source: 'nvidia-smi' | 'rocm-smi' | null;
  at: string;
}

export const NVIDIA_QUERY = ['--query-gpu=index,uuid,name,memory.total,memory.used,utilization.gpu', '--format=csv,noheader,nounits'];
export const ROCM_QUERY = ['--showid', '--showproductname', '--showmeminfo', 'vram', '--showuse', '--showuniqueid', '--json'];

export class SmiParseError extends Error {}

/** `[N/A]`, `[Not Supported]`, empty → null; else a finite number or a parse error. */
function num(field: string, what: string, line: string): number | null {
  const f = field.trim();
  if (f === '' || /^\[.*\]$/.test(f) || /^n\/?a$/i.test(f)) return null;
  const n = Number(f);
  if (!Number.isFinite(n)) throw new SmiParseError(`${what} is not a number in line ${JSON.stringify(line.slice(0, 120))}`);
  return n;
}

/** Parse the CSV of NVIDIA_QUERY (a name may contain commas: the fields around it are fixed). */
export function parseNvidiaSmi(stdout: string): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const raw of stdout.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const f = line.split(',').map((s) => s.trim());
    if (f.length < 6) throw new SmiParseError(`expected 6 fields, got ${f.length} in line ${JSON.stringify(line.slice(0, 120))}`);
    const index = num(f[0]!, 'index', line);
    if (index === null || !Number.isInteger(index) || index < 0) throw new SmiParseError(`bad GPU index in line ${JSON.stringify(line.slice(0, 120))}`);
    const n = f.length;
    gpus.push({
      index, uuid: f[1]!, name: f.slice(2, n - 3).join(', '),
      memory_total_mib: num(f[n - 3]!, 'memory.total', line),
      memory_used_mib: num(f[n - 2]!, 'memory.used', line),
      utilization_pct: num(f[n - 1]!, 'utilization.gpu', line),
      vendor: 'nvidia',
    });
  }
  if (new Set(gpus.map((g) => g.index)).size !== gpus.length) throw new SmiParseError('the same GPU index appears twice');
  return gpus.sort((a, b) => a.index - b.index);
}

/** Parse `rocm-smi … --json` ({"card0": {"GPU use (%)": "3", "VRAM Total Memory (B)": "…", …}}). Field names vary by version. */
export function parseRocmSmi(stdout: string): GpuInfo[] {
  let data: unknown;
  try { data = JSON.parse(stdout); } catch { throw new SmiParseError(`rocm-smi printed no JSON: ${JSON.stringify(stdout.slice(0, 120))}`); }
  if (!data || typeof data !== 'object') throw new SmiParseError('rocm-smi JSON is not an object');
  const gpus: GpuInfo[] = [];
  for (const [key, val] of Object.entries(data as Record<string, unknown>)) {
    const m = /^card(\d+)$/i.exec(key);
    if (!m || !val || typeof val !== 'object') continue;
    const fields = new Map(Object.entries(val as Record<string, unknown>).map(([k, v]) => [k.toLowerCase(), String(v)]));
    const get = (...names: string[]) => { for (const n of names) { const v = fields.get(n); if (v !== undefined) return v; } return undefined; };
    const bytes = (v: string | undefined) => { const n = v === undefined ? NaN : Number(v); return Number.isFinite(n) ? Math.round(n / 1048576) : null; };
    const pct = Number(get('gpu use (%)'));
    gpus.push({
      index: Number(m[1]), uuid: get('unique id') ?? `card${m[1]}`,
      name: get('card series', 'card model', 'device name') ?? 'AMD GPU',
      memory_total_mib: bytes(get('vram total memory (b)')), memory_used_mib: bytes(get('vram total used memory (b)')),
      utilization_pct: Number.isFinite(pct) ? pct : null, vendor: 'amd',
    });
  }
  return gpus.sort((a, b) => a.index - b.index);
}

/**
 * Apply a *_VISIBLE_DEVICES value the server itself runs under: a list of indices or UUIDs (prefixes
 * allowed); like CUDA, the list ends at the first entry that names no GPU (so `-1` hides them all).
 * Unset keeps every GPU; set to the empty string hides every GPU.
 */
export function applyVisible(gpus: GpuInfo[], visible: string | undefined): GpuInfo[] {
  if (visible === undefined) return gpus;
  const out: GpuInfo[] = [];
  for (const tok of visible.split(',').map((s) => s.trim())) {
    if (!tok) break;
    const g = /^\d+$/.test(tok) ? gpus.find((x) => x.index === Number(tok)) : gpus.find((x) => x.uuid === tok || (tok.length >= 8 && x.uuid.startsWith(tok)));
    if (!g) break;
    if (!out.includes(g)) out.push(g);
  }
  return out;
}

/** What running a tool gave: null when the tool is not installed. */
export type RunResult = { code: number | null; stdout: string; stderr: string; timedOut?: boolean } | null;
export type Runner = (argv: string[]) => Promise<RunResult>;

/** Runs a tool found on PATH, with a time limit (a hung driver must not hang the server). */
export function processRunner(env: Record<string, string | undefined> = process.env, timeoutMs = 15_000): Runner {
  return async (argv) => {
    const exe = Bun.which(argv[0]!, { PATH: env.PATH ?? '' });
    if (!exe) return null;
    const proc = Bun.spawn([exe, ...argv.slice(1)], { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', env: env as Record<string, string> });
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; proc.kill('SIGKILL'); }, timeoutMs);
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    clearTimeout(timer);
    return { code: timedOut ? null : code, stdout, stderr, timedOut };
  };
}

export interface DetectOptions {
  run: Runner;
  /** the server's own environment (CUDA_VISIBLE_DEVICES, ROCR_VISIBLE_DEVICES, HIP_VISIBLE_DEVICES) */
  env?: Record<string, string | undefined>;
  /** --gpu-slots: use at most this many GPUs */
  gpuSlots?: number;
  now?: () => number;
}

type Query = { ok: true; gpus: GpuInfo[]; source: 'nvidia-smi' | 'rocm-smi' } | { ok: false; reason: string; detail: string };

const firstLine = (s: string) => s.split('\n').map((l) => l.trim()).find(Boolean) ?? '';

/** One call of one tool; `missing` when it is not installed. */
async function query(run: Runner, tool: 'nvidia-smi' | 'rocm-smi'): Promise<Query | 'missing'> {
  const r: RunResult = await run([tool, ...(tool === 'nvidia-smi' ? NVIDIA_QUERY : ROCM_QUERY)]).catch((e) => ({ code: null, stdout: '', stderr: String(e) }));
  if (r === null) return 'missing';
  const why = firstLine(r.stderr) || firstLine(r.stdout);
  // nvidia-smi says so (exit 6) when the driver works and there is simply no GPU
  if (/no devices were found/i.test(`${r.stdout}\n${r.stderr}`)) return { ok: true, gpus: [], source: tool };
  if (r.timedOut) return { ok: false, reason: `${tool.replace('-', '_')}_failed: timed out`, detail: `${tool} did not answer in time` };
  if (r.code === null) return { ok: false, reason: `${tool.replace('-', '_')}_failed: error`, detail: `${tool} could not be run${why ? `: ${why.slice(0, 300)}` : ''}` };
  if (r.code !== 0) return { ok: false, reason: `${tool.replace('-', '_')}_failed: exit ${r.code}`, detail: `${tool} exited with ${r.code}${why ? `: ${why.slice(0, 300)}` : ''}` };
  try {
    return { ok: true, gpus: tool === 'nvidia-smi' ? parseNvidiaSmi(r.stdout) : parseRocmSmi(r.stdout), source: tool };
  } catch (err) {
    if (!(err instanceof SmiParseError)) throw err;
    return { ok: false, reason: `${tool.replace('-', '_')}_failed: unreadable output`, detail: `${tool} printed something drover cannot read (${err.message})` };
  }
}

/** Ask nvidia-smi, then rocm-smi when there is no NVIDIA GPU; apply the server's visibility and --gpu-slots. */
export async function detectGpus(o: DetectOptions): Promise<Inventory> {
  const env = o.env ?? process.env;
  const at = new Date((o.now ?? Date.now)()).toISOString();
  const nv = await query(o.run, 'nvidia-smi');
  let found: Query | 'missing' = nv;
  if (nv === 'missing' || (nv.ok && nv.gpus.length === 0)) {
    const amd = await query(o.run, 'rocm-smi');
    if (nv === 'missing' || (amd !== 'missing' && amd.ok && amd.gpus.length > 0)) found = amd;
  }
  if (found === 'missing') return { gpus: [], detected: 0, reason: 'no_gpu_detected', detail: 'neither nvidia-smi nor rocm-smi is on the PATH', source: null, at };
  if (!found.ok) return { gpus: [], detected: 0, reason: found.reason, detail: found.detail, source: null, at };
  const visibleVar = found.source === 'nvidia-smi' ? env.CUDA_VISIBLE_DEVICES : env.ROCR_VISIBLE_DEVICES ?? env.HIP_VISIBLE_DEVICES ?? env.CUDA_VISIBLE_DEVICES;
  let gpus = applyVisible(found.gpus, visibleVar);
  if (o.gpuSlots !== undefined) gpus = gpus.slice(0, Math.max(0, o.gpuSlots));
  const inv: Inventory = { gpus, detected: found.gpus.length, reason: null, detail: null, source: found.source, at };
  if (gpus.length === 0) {
    inv.reason = 'no_gpu_detected';
    inv.detail = found.gpus.length === 0 ? `${found.source} lists no GPU`
      : o.gpuSlots === 0 ? `${found.gpus.length} GPU(s) detected, but --gpu-slots is 0`
      : `${found.gpus.length} GPU(s) detected, but the server's *_VISIBLE_DEVICES (${JSON.stringify(visibleVar)}) hides them all`;
  }
  return inv;
}
