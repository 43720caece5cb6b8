// Log following by offset-based polling (`logs -f`, `submit --follow`). Kept apart so a
// WebSocket tail (API.md §3) can replace it without touching the commands. Offsets are
// byte offsets into the stored log; bytes are written through untouched unless prefixed.
import { sleep } from './command.ts';
import { HttpError, type Client } from './client.ts';
import { isTerminal, type Job, type Run } from './types.ts';

export type Write = (chunk: string | Uint8Array) => void;
const stdoutWrite: Write = (c) => void process.stdout.write(c);

interface Tail { offset: number; prefix?: LinePrefixer }

/** Splits a byte stream into lines and writes each as `[label] line`; keeps the unfinished tail. */
export class LinePrefixer {
  private decoder = new TextDecoder();
  private partial = '';
  constructor(private readonly label: string, private readonly write: Write) {}
  push(bytes: Uint8Array) {
    const lines = (this.partial + this.decoder.decode(bytes, { stream: true })).split('\n');
    this.partial = lines.pop()!;
    if (lines.length) this.write(lines.map((l) => `[${this.label}] ${l}\n`).join(''));
  }
  flush() {
    const rest = this.partial + this.decoder.decode();
    this.partial = '';
    if (rest) this.write(`[${this.label}] ${rest}\n`);
  }
}

/** Reads everything past `tail.offset` now (several requests if the server pages); returns bytes read. */
async function drain(client: Client, jobId: string, tail: Tail, write: Write, command?: number): Promise<number> {
  let total = 0;
  for (let i = 0; i < 10_000; i++) {
    let res;
    try {
      res = await client.text(`/jobs/${jobId}/logs`, { command, offset: tail.offset });
    } catch (e) {
      if (e instanceof HttpError && e.status === 404) return total; // the job exists (checked first) but has no log yet
      throw e;
    }
    const header = Number(res.headers.get('x-log-size'));
    const size = Number.isFinite(header) && res.headers.has('x-log-size') ? header : tail.offset + res.bytes.length;
    if (size < tail.offset) { tail.offset = 0; continue; } // log was replaced (new attempt): start over
    if (res.bytes.length === 0) return total;
    if (tail.prefix) tail.prefix.push(res.bytes);
    else write(res.bytes);
    tail.offset += res.bytes.length;
    total += res.bytes.length;
    if (tail.offset >= size) return total;
  }
  return total;
}

/** `logs -f`: prints the log as it grows until the job is terminal and its log fully printed. */
export async function followLog(client: Client, jobId: string, opts: { command?: number; intervalMs?: number; write?: Write } = {}): Promise<Job> {
  const tail: Tail = { offset: 0 };
  for (;;) {
    const job = await client.get<Job>(`/jobs/${jobId}`); // status first: if terminal, the drain below is final
    await drain(client, jobId, tail, opts.write ?? stdoutWrite, opts.command);
    if (isTerminal(job.status)) return job;
    await sleep(opts.intervalMs ?? 250);
  }
}

/**
 * `submit --follow`: polls each run until terminal, streaming every started job's log.
 * Lines get a `[stage/job]` prefix (`[run stage/job]` for several runs) when more than one job is followed.
 */
export async function followRuns(client: Client, runIds: string[], opts: { intervalMs?: number; write?: Write } = {}): Promise<Run[]> {
  const write = opts.write ?? stdoutWrite;
  const tails = new Map<string, Tail>();
  const final = new Map<string, Run>();
  for (;;) {
    const runs = await Promise.all(runIds.filter((id) => !final.has(id)).map((id) => client.get<Run>(`/runs/${id}`)));
    const jobs = runs.flatMap((r) => (r.stages ?? []).flatMap((s) => s.jobs.map((j) => ({ r, j }))));
    const prefixed = runIds.length > 1 || jobs.length > 1;
    for (const { r, j } of jobs) {
      if (j.status === 'pending' || (j.status === 'queued' && !j.started_at)) continue;
      let tail = tails.get(j.id);
      if (!tail) {
        const label = runIds.length > 1 ? `${r.id} ${j.stage}/${j.name}` : `${j.stage}/${j.name}`;
        tail = { offset: 0, prefix: prefixed ? new LinePrefixer(label, write) : undefined };
        tails.set(j.id, tail);
      }
      await drain(client, j.id, tail, write);
      if (isTerminal(j.status) || isTerminal(r.status)) tail.prefix?.flush();
    }
    for (const r of runs) if (isTerminal(r.status)) final.set(r.id, r);
    if (final.size === runIds.length) return runIds.map((id) => final.get(id)!);
    await sleep(opts.intervalMs ?? 300);
  }
}
