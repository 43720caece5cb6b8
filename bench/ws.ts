// `bun bench/ws.ts`: live log streaming over the WebSocket (API.md §3). Not a test.
//  1. latency from a command writing a line (its own $EPOCHREALTIME stamp in the line) to a
//     WebSocket client receiving it, p50/p99 over every line and subscriber, with 1, 100 and 1,000
//     subscribers (clients in separate processes, so their own parsing does not queue the server);
//  2. throughput of one job printing 200 MB to stdout: MB/s stored (the command's own start/end)
//     and streamed (command start → the last byte at a subscriber), next to `cat` of the same bytes
//     to a file in the same round, with the CPU time the server and the client spent meanwhile;
//  3. the same 200 MB with 10 secrets configured (part `redacted`): the runner writes raw/, the
//     server's redacting copier makes the stored log (a secret every 1,000 lines is replaced);
//  4. part `ceiling`: the same client and bytes against ws-ceiling.ts, a bare-bones Bun WebSocket
//     server that only streams the file `cat` is writing — what this machine allows at best.
// Targets: line p99 < 20 ms at 100 subscribers and < 60 ms at 1,000; streaming ≥ half of `cat`
// (the median round); streaming with 10 secrets ≥ 100 MB/s. Writes bench/ws-results.json; exits 1
// when a target is missed. Knobs: WS_BENCH_PARTS (comma list of latency,json,binary,redacted,ceiling;
// e.g. `binary,ceiling` skips the latency part), WS_BENCH_MB, WS_BENCH_ROUNDS (latency rounds),
// WS_BENCH_TP_ROUNDS (throughput rounds), WS_BENCH_LINES, WS_BENCH_LINE_MS. The machine is shared:
// each round records the 1-minute load average, and rounds of different parts are interleaved.
import { writeFileSync, readFileSync, openSync, writeSync, closeSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { droverCommand, withServer, round, removeRoots, now, tempRoot, type BenchServer } from './lib.ts';

const LINES = Number(process.env.WS_BENCH_LINES ?? 250);
const LINE_MS = Number(process.env.WS_BENCH_LINE_MS ?? 20);
const MB = 1024 * 1024;
const SIZE_MB = Number(process.env.WS_BENCH_MB ?? 200);
const ROUNDS = Math.max(1, Number(process.env.WS_BENCH_ROUNDS ?? 3) || 3); // latency: median of rounds (this machine is shared)
const TP_ROUNDS = Math.max(1, Number(process.env.WS_BENCH_TP_ROUNDS ?? 3) || 3); // throughput: median of rounds

// ---------- client mode: `bun bench/ws.ts client URL TOKEN JOB N COMMAND ENCODING` → JSON {lat: ms[], bytes, lastAt, ackAt, cpuMs} on stdout ----------

async function clientMode([url, token, job, nStr, cmdStr, encoding]: string[]) {
  const n = Number(nStr), command = cmdStr === '-' ? undefined : Number(cmdStr);
  const lat: number[] = [];
  let bytes = 0, lastAt = 0, eofs = 0, ackAt = 0;
  let finish = () => {};
  const Ws = WebSocket as unknown as new (u: string, o: object) => WebSocket;
  await Promise.all(Array.from({ length: n }, () => new Promise<void>((ready) => {
    const ws = new Ws(`${url.replace(/^http/, 'ws')}/api/v1/ws`, { headers: { authorization: `Bearer ${token}` } });
    let partial = '';
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => ws.send(JSON.stringify({ op: 'subscribe', channel: 'logs', job, offset: 0, command, encoding }));
    let ended = false;
    ws.onclose = (ev) => { // cut off before eof (e.g. slow_client): fail rather than wait forever
      if (!ended) { process.stderr.write(`ws bench client: closed before eof (${ev.code} ${ev.reason})\n`); process.exit(1); } };
    ws.onmessage = (ev) => {
      const at = performance.timeOrigin + performance.now();
      if (typeof ev.data !== 'string') { // a binary log frame: header line, then the bytes
        const b = new Uint8Array(ev.data as ArrayBuffer);
        bytes += b.length - b.indexOf(10) - 1; lastAt = at;
        return;
      }
      const m = JSON.parse(ev.data);
      if (m.type === 'subscribed') { ackAt ||= at; ready(); }
      else if (m.type === 'log') {
        bytes += m.bytes; lastAt = at;
        if (command !== undefined) return; // throughput: count only
        const lines = (partial + m.data).split('\n');
        partial = lines.pop()!;
        for (const l of lines) if (l.startsWith('t ')) lat.push(at - Number(l.slice(2)) * 1000);
      } else if (m.type === 'eof') { ended = true; eofs++; ws.close(); if (eofs === n) finish(); }
    };
  })));
  const all = new Promise<void>((r) => { finish = r; });
  const cpu = () => { const u = process.resourceUsage(); return (u.userCPUTime + u.systemCPUTime) / 1000; };
  const cpu0 = cpu();
  process.stdout.write('ready\n');
  await all;
  await Bun.write(Bun.stdout, JSON.stringify({ lat, bytes, lastAt, ackAt, cpuMs: cpu() - cpu0 }) + '\n'); // all of it, before exiting
  process.exit(0);
}

// ---------- helpers ----------

interface ClientOut { lat: number[]; bytes: number; lastAt: number; ackAt: number; cpuMs: number }

/** Starts `n` subscribers of `job` spread over a few processes; resolves once all are subscribed. */
async function subscribers(s: { url: string; token: string }, job: string, n: number, command?: number, encoding = 'json') {
  const procs = Math.min(4, Math.ceil(n / 250));
  const kids = Array.from({ length: procs }, (_, i) => {
    const share = Math.floor(n / procs) + (i < n % procs ? 1 : 0);
    return Bun.spawn([process.execPath, import.meta.path, 'client', s.url, s.token, job, String(share), command === undefined ? '-' : String(command), encoding], { stdout: 'pipe', stderr: 'inherit' });
  });
  const readers = kids.map((k) => (k.stdout as ReadableStream<Uint8Array>).getReader());
  const texts = kids.map(() => '');
  const readUntil = async (i: number, pred: (t: string) => boolean) => {
    const dec = new TextDecoder();
    while (!pred(texts[i]!)) { const { value, done } = await readers[i]!.read(); if (done) break; texts[i] += dec.decode(value); }
  };
  await Promise.all(kids.map((_, i) => readUntil(i, (t) => t.includes('ready\n'))));
  return {
    done: async (): Promise<ClientOut> => {
      await Promise.all(kids.map((_, i) => readUntil(i, (t) => /\}\n$/.test(t))));
      const outs = texts.map((t) => JSON.parse(t.slice(t.indexOf('ready\n') + 6)) as ClientOut);
      return { lat: outs.flatMap((o) => o.lat), bytes: outs.reduce((a, o) => a + o.bytes, 0), lastAt: Math.max(...outs.map((o) => o.lastAt)), ackAt: Math.min(...outs.map((o) => o.ackAt)), cpuMs: outs.reduce((a, o) => a + o.cpuMs, 0) };
    },
  };
}

const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN; };
const gated = (root: string, name: string, body: string) => ({
  name, workspace: root, stages: [{ name: 'main', jobs: [{ name: 'j', commands: [`while [ ! -e ${join(root, 'go')} ]; do sleep 0.005; done`, body] }] }],
});

async function latency(n: number) {
  return withServer([], async (s) => {
    const out = await s.must('POST', '/runs', { spec: gated(s.root, `ws-lat-${n}`, `for i in $(seq 1 ${LINES}); do echo "t $EPOCHREALTIME"; sleep ${LINE_MS / 1000}; done`) });
    const job = out.body.run.stages[0].jobs[0].id;
    const subs = await subscribers(s, job, n);
    writeFileSync(join(s.root, 'go'), '');
    const r = await subs.done();
    return { subscribers: n, lines: LINES, samples: r.lat.length, p50: round(pct(r.lat, 50), 2), p99: round(pct(r.lat, 99), 2), max: round(Math.max(...r.lat), 2), rssMiB: round(s.rss().hwm, 0) };
  });
}

function makeFile(path: string, mb: number, secret?: string) {
  const line = Buffer.from('0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 the quick brown fox!\n'); // 100 B
  // with a secret: one line in 1,000 carries it (padded to the same 100 B)
  const odd = secret ? Buffer.from(`token=${secret} `.padEnd(99, '.') + '\n') : line;
  const block = Buffer.concat(Array.from({ length: 10_486 }, (_, i) => (i % 1000 === 999 ? odd : line))); // ~1 MiB
  const fd = openSync(path, 'w');
  let left = mb * MB;
  while (left > 0) { const n = Math.min(left, block.length); writeSync(fd, block, 0, n); left -= n; }
  closeSync(fd);
}

async function catSpeed(src: string, dst: string): Promise<number> {
  const best: number[] = [];
  for (let i = 0; i < 3; i++) {
    rmSync(dst, { force: true });
    const t0 = now();
    await Bun.spawn(['bash', '-c', `cat ${src} > ${dst}`]).exited;
    best.push(now() - t0);
  }
  rmSync(dst, { force: true });
  return Math.min(...best);
}

const SECRETS = Array.from({ length: 10 }, (_, i) => [`BENCH_SECRET_${i}`, `s3cr3t-${i}-${crypto.randomUUID()}`] as const);

/** One job `cat`s SIZE_MB to stdout with one subscriber (JSON text or binary frames); `secrets`: with 10 to redact. */
async function throughput(encoding: 'json' | 'binary', secrets = false) {
  const load = round(loadavg()[0], 2);
  let root = '';
  try { return await withServer([], async (s) => {
    root = s.root;
    const src = join(s.root, 'big.txt');
    makeFile(src, SIZE_MB, secrets ? SECRETS[3]![1] : undefined);
    const catMs = await catSpeed(src, join(s.root, 'cat.out'));
    if (secrets) for (const [name, value] of SECRETS) await s.must('PUT', `/secrets/${name}`, { value });
    const spec = gated(s.root, `ws-tput-${encoding}${secrets ? '-redacted' : ''}`, `cat ${src}`);
    const out = await s.must('POST', '/runs', { spec: secrets ? { ...spec, secrets: SECRETS.map(([n]) => n) } : spec });
    const job = out.body.run.stages[0].jobs[0].id;
    const subs = await subscribers(s, job, 1, 1, encoding);
    const cpu0 = cpuMsOf(s.pid);
    writeFileSync(join(s.root, 'go'), '');
    const r = await subs.done();
    const serverCpuMs = cpuMsOf(s.pid) - cpu0;
    await waitDone(s, job);
    const j = (await s.must('GET', `/jobs/${job}`)).body;
    const c = j.commands[1];
    const start = Date.parse(c.started_at), end = Date.parse(c.ended_at);
    const mb = SIZE_MB * MB / 1e6;
    // the same log again once the job has ended: straight from disk, nothing else running
    const replay = await (await subscribers(s, job, 1, 1, encoding)).done();
    return {
      encoding: secrets ? `${encoding}, 10 secrets` : encoding, mb: SIZE_MB, received: r.bytes, stored: j.commands[1].log_size as number,
      finalMs: Date.parse(j.ended_at) - start, replayMBs: round(mb / ((replay.lastAt - replay.ackAt) / 1000), 0), catMs: round(catMs, 0), catMBs: round(mb / (catMs / 1000), 0),
      storedMs: end - start, storedMBs: round(mb / ((end - start) / 1000), 0),
      serverCpuMs: round(serverCpuMs, 0), clientCpuMs: round(r.cpuMs, 0),
      streamedMs: round(r.lastAt - start, 0), streamedMBs: round(mb / ((r.lastAt - start) / 1000), 0), rssMiB: round(s.rss().hwm, 0),
      ratio: round(catMs / (r.lastAt - start), 2), load,
    };
  }); } finally {
    // now, not at the end: each round leaves ~400 MB of dirty pages, and a few rounds' worth start
    // the kernel's background writeback, which then throttles the next rounds' jobs several-fold
    if (root) rmSync(root, { recursive: true, force: true });
  }
}

/** CPU time (user + system) a process has used, from /proc (10 ms ticks). */
function cpuMsOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** The same client and bytes against ws-ceiling.ts (a bare Bun WebSocket server, not drover). */
async function ceiling() {
  const load = round(loadavg()[0], 2);
  const root = tempRoot('drover-bench-');
  const src = join(root, 'big.txt');
  makeFile(src, SIZE_MB);
  const catMs = await catSpeed(src, join(root, 'cat.out'));
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, 'ws-ceiling.ts'), src, root], { stdout: 'pipe', stderr: 'inherit' });
  try {
    const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const line = async (n: number) => {
      while (text.split('\n').length <= n) { const { value, done } = await reader.read(); if (done) throw new Error('ws-ceiling.ts exited'); text += new TextDecoder().decode(value); }
      return text.split('\n')[n - 1]!;
    };
    const url = await line(1);
    const subs = await subscribers({ url, token: '-' }, 'bare', 1, 1, 'binary');
    const cpu0 = cpuMsOf(proc.pid);
    await fetch(`${url}/go`, { method: 'POST' });
    const r = await subs.done();
    const serverCpuMs = cpuMsOf(proc.pid) - cpu0;
    const { start: s0, end: s1 } = JSON.parse(await line(2)) as { start: number; end: number };
    const start = s0 * 1000, storedMs = round((s1 - s0) * 1000, 0), mb = SIZE_MB * MB / 1e6;
    return {
      encoding: 'ceiling', mb: SIZE_MB, received: r.bytes, catMs: round(catMs, 0), catMBs: round(mb / (catMs / 1000), 0),
      storedMs, storedMBs: round(mb / (storedMs / 1000), 0), replayMBs: null,
      serverCpuMs: round(serverCpuMs, 0), clientCpuMs: round(r.cpuMs, 0),
      streamedMs: round(r.lastAt - start, 0), streamedMBs: round(mb / ((r.lastAt - start) / 1000), 0), ratio: round(catMs / (r.lastAt - start), 2), load,
    };
  } finally {
    proc.kill();
    await proc.exited;
    rmSync(root, { recursive: true, force: true });
  }
}

async function waitDone(s: BenchServer, job: string): Promise<void> {
  for (;;) {
    const j = (await s.must('GET', `/jobs/${job}`)).body;
    if (['succeeded', 'failed', 'canceled'].includes(j.status)) return;
    await Bun.sleep(20);
  }
}

// ---------- main ----------

if (process.argv[2] === 'client') await clientMode(process.argv.slice(3));
else {
  const load0 = loadavg()[0];
  const lat: (Awaited<ReturnType<typeof latency>> & { p99_rounds: number[] })[] = [];
  const parts = (process.env.WS_BENCH_PARTS ?? 'latency,json,binary,redacted,ceiling').split(',');
  for (const n of parts.includes('latency') ? [1, 100, 1000] : []) {
    const rounds = [];
    for (let r = 1; r <= ROUNDS; r++) { process.stderr.write(`ws bench: latency with ${n} subscriber(s), round ${r} …\n`); rounds.push(await latency(n)); }
    const mid = [...rounds].sort((a, b) => a.p99 - b.p99)[Math.floor((rounds.length - 1) / 2)]!;
    lat.push({ ...mid, p99_rounds: rounds.map((x) => x.p99) });
  }
  type Tp = Awaited<ReturnType<typeof throughput>> & { round?: number };
  type Ceil = Awaited<ReturnType<typeof ceiling>> & { round?: number };
  const tps: Tp[] = [], ceil: Ceil[] = [];
  const encs = (['json', 'binary'] as const).filter((e) => parts.includes(e));
  for (let r = 1; r <= (encs.length || parts.includes('ceiling') ? TP_ROUNDS : 0); r++) {
    for (const enc of encs) { process.stderr.write(`ws bench: throughput of ${SIZE_MB} MB, ${enc}, round ${r} …\n`); tps.push({ ...(await throughput(enc)), round: r }); }
    if (parts.includes('ceiling')) { process.stderr.write(`ws bench: ceiling (bare Bun server), ${SIZE_MB} MB, round ${r} …\n`); ceil.push({ ...(await ceiling()), round: r }); }
  }
  const red: Tp[] = [];
  if (parts.includes('redacted')) { process.stderr.write(`ws bench: throughput of ${SIZE_MB} MB with 10 secrets, binary …\n`); red.push(await throughput('binary', true)); }
  removeRoots();
  const target = (n: number) => (n === 100 ? 20 : n === 1000 ? 60 : null);
  const rows = lat.map((l) => ({ ...l, target_p99_ms: target(l.subscribers), pass: target(l.subscribers) === null ? null : l.p99 < target(l.subscribers)! }));
  const medianOf = <T extends { ratio: number }>(xs: T[]) => [...xs].sort((a, b) => a.ratio - b.ratio)[Math.floor((xs.length - 1) / 2)]!;
  const medians = encs.map((e) => medianOf(tps.filter((t) => t.encoding === e)));
  const tpPass = (t: Tp) => t.received === SIZE_MB * MB && t.ratio >= 0.5;
  const redPass = (t: Tp) => t.received === t.stored && t.streamedMBs >= 100;
  console.log(`\ndrover ws bench — ${droverCommand().label}, ${cpus().length} CPUs, bun ${Bun.version}, load ${round(load0, 2)} at start\n`);
  console.log(`line latency (command writes a line → a subscriber has it), ms; the round with the median p99 of ${ROUNDS}`);
  console.log('subscribers  lines  samples   p50     p99     max    target p99  server peak RSS  p99 of each round');
  for (const r of rows) console.log(`${String(r.subscribers).padStart(11)}  ${String(r.lines).padStart(5)}  ${String(r.samples).padStart(7)}  ${String(r.p50).padStart(6)}  ${String(r.p99).padStart(6)}  ${String(r.max).padStart(6)}  ${r.target_p99_ms === null ? '      —   ' : `< ${r.target_p99_ms} ${r.pass ? 'ok  ' : 'MISS'}`}  ${`${r.rssMiB} MiB`.padEnd(15)}  ${r.p99_rounds.join(' / ')}`);
  if (tps.length || ceil.length) {
    console.log(`\nthroughput: one job printing ${SIZE_MB} MiB to stdout, one subscriber; MB/s = 10^6 B/s; ratio = streamed / cat; CPU ms while streaming`);
    console.log('round  frames                load   cat to a file       stored (command start→end)   streamed (command start→last byte)  ratio  server CPU  client CPU  replayed after the end');
    const label = (e: string) => (e === 'json' ? 'JSON text (default)' : e === 'binary' ? 'binary (the CLI)' : 'ceiling: bare Bun');
    for (const t of [...tps, ...ceil].sort((a, b) => a.round! - b.round!)) {
      console.log(`${String(t.round).padStart(5)}  ${label(t.encoding).padEnd(20)}  ${String(t.load).padStart(4)}   ${`${t.catMBs} MB/s (${t.catMs} ms)`.padEnd(18)}  ${(t.storedMBs === null ? '—' : `${t.storedMBs} MB/s (${t.storedMs} ms)`).padEnd(27)}  ${`${t.streamedMBs} MB/s (${t.streamedMs} ms, ${(t.received / MB).toFixed(0)} MiB)`.padEnd(34)}  ${t.ratio.toFixed(2).padStart(5)}  ${String(t.serverCpuMs).padStart(10)}  ${String(t.clientCpuMs).padStart(10)}  ${t.replayMBs === null ? '—' : `${t.replayMBs} MB/s`}`);
    }
    for (const m of medians) console.log(`median of ${TP_ROUNDS}: ${label(m.encoding)} streamed ${m.streamedMBs} MB/s, ${m.ratio.toFixed(2)} of cat (${m.catMBs} MB/s) — target ≥ 0.50 ${tpPass(m) ? 'ok' : 'MISS'}`);
    if (ceil.length) { const m = medianOf(ceil); console.log(`median of ${TP_ROUNDS}: ceiling (bare Bun server, same client) streamed ${m.streamedMBs} MB/s, ${m.ratio.toFixed(2)} of cat (${m.catMBs} MB/s)`); }
  }
  for (const t of red) {
    console.log(`\nwith 10 secrets (raw/ → redacting copier → stored log), ${SIZE_MB} MiB, binary frames, load ${t.load}; target streamed ≥ 100 MB/s`);
    console.log(`  runner wrote raw/ ${t.storedMBs} MB/s (${t.storedMs} ms); streamed ${t.streamedMBs} MB/s (${t.streamedMs} ms); job final ${round((t.mb * MB) / 1e6 / (t.finalMs / 1000), 0)} MB/s (${t.finalMs} ms); stored ${t.stored} B, received ${t.received} B  ${redPass(t) ? 'ok' : 'MISS'}`);
  }
  const file = join(import.meta.dir, 'ws-results.json');
  writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), drover: droverCommand().label, cpus: cpus().length, bun: Bun.version, loadavg_at_start: load0, latency: rows,
    throughput: [...medians.map((t) => ({ ...t, of_rounds: TP_ROUNDS, pass: tpPass(t) })), ...red.map((t) => ({ ...t, pass: redPass(t) }))],
    ceiling: ceil.length ? { ...medianOf(ceil), of_rounds: TP_ROUNDS } : null, throughput_rounds: [...tps, ...ceil] }, null, 2) + '\n');
  console.log(`\nwrote ${file}`);
  process.exit(rows.some((r) => r.pass === false) || (medians.length > 0 && !medians.some(tpPass)) || red.some((t) => !redPass(t)) ? 1 : 0);
}
