// The redactor: finds every form of every secret (patterns.ts) in bytes and replaces it with
// `[REDACTED:NAME]`. One pass over the bytes through a DFA (Aho-Corasick over each pattern's first
// 8 bytes; a hit is then checked against the whole pattern), so the cost hardly depends on how many
// secrets there are. Overlapping hits merge into one region, replaced as a whole, so no part of any
// matched form survives.
//
// Streaming: scan(data, final=false) emits only what can no longer be part of a pattern that
// continues past the end of `data`, and says how many bytes it consumed; the caller offers the rest
// again with more data (the copier re-reads them from the raw file; RedactStream keeps them in
// memory). It holds back at most about two pattern lengths. A value split across two writes is thus
// redacted exactly as if it had come in one.
// Not here: which secrets apply (core/secrets), files (copier.ts).
import { patternsOf, marker, type SecretValue, type Pattern } from './patterns.ts';

const PREFIX = 8;
const enc = new TextEncoder();
const dec = new TextDecoder();

export interface ScanResult { out: Uint8Array; consumed: number }

/** Secret values replaced so far, by every redactor of this process (/metrics: drover_log_redactions_total). */
export const redactionCount = { matches: 0 };

export class Redactor {
  readonly maxLen: number;
  readonly size: number;
  private readonly pats: Pattern[];
  private readonly plen: Int32Array;
  private readonly delta: Int32Array;
  private readonly acc: Uint8Array;
  private readonly outs: number[][];
  private readonly markers = new Map<string, Uint8Array>();

  constructor(secrets: readonly SecretValue[]) {
    this.pats = patternsOf(secrets);
    this.size = this.pats.length;
    this.maxLen = this.pats.reduce((m, p) => Math.max(m, p.bytes.length), 0);
    this.plen = Int32Array.from(this.pats, (p) => Math.min(PREFIX, p.bytes.length));
    for (const p of this.pats) if (!this.markers.has(p.name)) this.markers.set(p.name, enc.encode(marker(p.name)));
    // trie of the prefixes
    const children: Map<number, number>[] = [new Map()];
    const own: number[][] = [[]];
    this.pats.forEach((p, id) => {
      let node = 0;
      for (let k = 0; k < this.plen[id]!; k++) {
        const b = p.bytes[k]!;
        let next = children[node]!.get(b);
        if (next === undefined) { next = children.length; children.push(new Map()); own.push([]); children[node]!.set(b, next); }
        node = next;
      }
      own[node]!.push(id);
    });
    // the DFA: every state × byte → state, with the failure links folded in (breadth first)
    const n = children.length;
    const delta = new Int32Array(n * 256);
    const fail = new Int32Array(n);
    this.outs = own.map((o) => [...o]);
    const queue: number[] = [];
    for (const [b, c] of children[0]!) { delta[b] = c; queue.push(c); }
    for (let q = 0; q < queue.length; q++) {
      const node = queue[q]!;
      const f = fail[node]!;
      if (this.outs[f]!.length) this.outs[node]!.push(...this.outs[f]!);
      for (let b = 0; b < 256; b++) {
        const c = children[node]!.get(b);
        if (c === undefined) delta[node * 256 + b] = delta[f * 256 + b]!;
        else { fail[c] = delta[f * 256 + b]!; delta[node * 256 + b] = c; queue.push(c); }
      }
    }
    this.delta = delta;
    this.acc = Uint8Array.from(this.outs, (o) => (o.length ? 1 : 0));
  }

  get empty(): boolean { return this.size === 0; }

  /** Redacts what can be decided now; `consumed` bytes of `data` are done (all of them when final). */
  scan(data: Uint8Array, final: boolean): ScanResult {
    const n = data.length;
    if (this.size === 0) return { out: data, consumed: n };
    const hits = this.find(data);
    let cut = final ? n : Math.max(0, n - (this.maxLen - 1));
    const regions = merge(hits.matches);
    if (!final) {
      // a hit that runs past the end may still match: hold back from its start, or from the start of
      // the region it begins inside (which may still grow)
      if (hits.unresolved < cut) cut = hits.unresolved;
      for (const r of regions) if (r.start <= hits.unresolved && hits.unresolved < r.end && r.start < cut) cut = r.start;
    }
    let end = cut;
    const parts: Uint8Array[] = [];
    let at = 0;
    for (const r of regions) {
      if (r.start >= cut) break;
      if (r.start > at) parts.push(data.subarray(at, r.start));
      for (const name of r.names) parts.push(this.markers.get(name)!);
      redactionCount.matches += r.names.length;
      at = r.end;
      if (r.end > end) end = r.end;
    }
    if (parts.length === 0) return { out: data.subarray(0, end), consumed: end };
    if (at < end) parts.push(data.subarray(at, end));
    return { out: concat(parts), consumed: end };
  }

  /**
   * Two streams read one after another (the end of one command's output, then the start of the
   * next's): `data` is the held-back tail of the first (up to `boundary`) followed by enough of the
   * second to decide every pattern that starts in the tail. Returns the first part redacted — a secret
   * running across the boundary becomes its marker here — and how many bytes of the second part that
   * marker swallowed (the second stream's copy starts after them). `pending`: a possible secret that
   * starts before the boundary runs past the end of `data` (more of the second part decides it).
   */
  splitAt(data: Uint8Array, boundary: number): { head: Uint8Array; skip: number; pending: boolean } {
    if (this.size === 0) return { head: data.subarray(0, boundary), skip: 0, pending: false };
    const parts: Uint8Array[] = [];
    let at = 0;
    let skip = 0;
    const hits = this.find(data);
    for (const r of merge(hits.matches)) {
      if (r.start >= boundary) break;
      if (r.start > at) parts.push(data.subarray(at, r.start));
      for (const name of r.names) parts.push(this.markers.get(name)!);
      at = r.end;
      if (r.end > boundary) skip = r.end - boundary;
    }
    if (at < boundary) parts.push(data.subarray(at, boundary));
    return { head: concat(parts), skip, pending: hits.unresolved < boundary || this.endsInPrefix(data, boundary) };
  }

  /** Whether some position before `boundary` starts a pattern that the end of `data` cuts short. */
  private endsInPrefix(data: Uint8Array, boundary: number): boolean {
    for (let p = Math.max(0, data.length - this.maxLen + 1); p < boundary; p++) {
      const rest = data.length - p;
      for (const pat of this.pats) {
        if (pat.bytes.length <= rest) continue;
        let k = 0;
        while (k < rest && data[p + k] === pat.bytes[k]) k++;
        if (k === rest) return true;
      }
    }
    return false;
  }

  /** All of `data`, redacted. */
  redact(data: Uint8Array): Uint8Array { return this.scan(data, true).out; }

  redactString(s: string): string {
    if (this.size === 0 || s.length === 0) return s;
    const bytes = enc.encode(s);
    const out = this.redact(bytes);
    return out.buffer === bytes.buffer ? s : dec.decode(out); // unchanged: a view of the same bytes
  }

  stream(): RedactStream { return new RedactStream(this); }

  /** Verified matches, and the earliest start of a hit that runs past the end of `data`. */
  private find(data: Uint8Array): { matches: { start: number; end: number; name: string }[]; unresolved: number } {
    const { delta, acc, outs, plen, pats } = this;
    const n = data.length;
    const matches: { start: number; end: number; name: string }[] = [];
    let unresolved = Infinity;
    let s = 0;
    for (let i = 0; i < n; i++) {
      s = delta[(s << 8) | data[i]!]!;
      if (acc[s] === 0) continue;
      for (const id of outs[s]!) {
        const start = i + 1 - plen[id]!;
        const p = pats[id]!.bytes;
        if (start + p.length > n) { if (start < unresolved) unresolved = start; continue; }
        let k = plen[id]!;
        while (k < p.length && data[start + k] === p[k]) k++;
        if (k === p.length) matches.push({ start, end: start + p.length, name: pats[id]!.name });
      }
    }
    return { matches, unresolved };
  }
}

/** Overlapping or touching matches → one region each, with the names in order of appearance. */
function merge(ms: { start: number; end: number; name: string }[]): { start: number; end: number; names: string[] }[] {
  if (ms.length === 0) return [];
  ms.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: { start: number; end: number; names: string[] }[] = [];
  for (const m of ms) {
    const last = out[out.length - 1];
    if (last && m.start < last.end) {
      if (m.end > last.end) last.end = m.end;
      if (!last.names.includes(m.name)) last.names.push(m.name);
    } else out.push({ start: m.start, end: m.end, names: [m.name] });
  }
  return out;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** A redactor over a stream of writes, holding back in memory what may still be part of a secret. */
export class RedactStream {
  private pending: Uint8Array = new Uint8Array(0);
  constructor(private readonly r: Redactor) {}

  /** The redacted bytes that are final now (valid until the next call). */
  push(chunk: Uint8Array): Uint8Array {
    const data = this.pending.length ? concat([this.pending, chunk]) : chunk;
    const { out, consumed } = this.r.scan(data, false);
    this.pending = data.slice(consumed);
    return out;
  }

  /** Everything held back, redacted; the stream is empty afterwards. */
  end(): Uint8Array {
    const { out } = this.r.scan(this.pending, true);
    this.pending = new Uint8Array(0);
    return out;
  }
}
