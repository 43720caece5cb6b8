// Turns the collected samples into table rows: the median of each measurement with its
// min–max spread, drover-vs-peer ratios taken per round (same conditions), and pass/fail
// against the targets. Pure: no I/O.
import { medianBy, spread, round } from './lib.ts';
import type { PeerResult } from './peers.ts';
import type { ThroughputResult } from './throughput.ts';
import type { SweepResult } from './sweep.ts';
import type { RssResult } from './rss.ts';
import type { Row } from './table.ts';

type R<T> = (T & { round: number })[];
export interface Samples {
  xargs: R<PeerResult>; tsp: R<PeerResult>; throughput: R<ThroughputResult>; sweep: R<SweepResult>; rss: R<RssResult>;
}
export interface Sizes { throughput: number; sweep: number; queued: number }

const f = (x: number | null | undefined, d = 1) => (x == null || !Number.isFinite(x) ? 'n/a' : String(round(x, d)));
const withSpread = (v: string, s: string) => (s ? `${v} (${s})` : v);

/** Median over rounds of drover/peer, using only rounds where both finished. */
function roundRatio(d: R<ThroughputResult>, p: R<PeerResult>): number | null {
  const r = d.map((t) => {
    const peer = p.find((q) => q.round === t.round);
    return t.seconds != null && peer?.jobsPerSec ? t.jobsPerSec! / peer.jobsPerSec : null;
  }).filter((x): x is number => x != null);
  if (!r.length) return null;
  return r.sort((a, b) => a - b)[Math.floor((r.length - 1) / 2)];
}

export function buildRows(s: Samples, n: Sizes): Row[] {
  const jps = (t: { jobsPerSec: number | null }) => t.jobsPerSec;
  const t = medianBy(s.throughput, jps), x = medianBy(s.xargs, jps), p = medianBy(s.tsp, jps);
  const sw = medianBy(s.sweep, (r) => r.postMs), m = s.rss[0];
  const allDone = s.throughput.length > 0 && s.throughput.every((r) => r.seconds != null);
  const d = t?.jobsPerSec ?? null;
  const rx = roundRatio(s.throughput, s.xargs), rp = roundRatio(s.throughput, s.tsp);
  const tspNote = s.tsp.find((r) => r.note)?.note;
  const peers = `xargs ${withSpread(f(x?.jobsPerSec), spread(s.xargs, jps))}; tsp ${withSpread(f(p?.jobsPerSec), spread(s.tsp, jps))}${tspNote ? ` [${tspNote}]` : ''}`;
  const minOk = s.throughput.length ? Math.min(...s.throughput.map((r) => r.succeeded)) : 0;
  return [
    { metric: `throughput, ${n.throughput} x true, 2 parallel (jobs/s)`, drover: withSpread(f(d) + (allDone ? '' : ' partial'), spread(s.throughput, jps)), peers, target: '>= 400', pass: d != null && allDone && d >= 400 },
    { metric: 'drover / xargs (per-round median)', drover: f(rx, 2), peers: '', target: '>= 0.5 (within 2x)', pass: rx != null && rx >= 0.5 },
    { metric: 'drover / tsp (per-round median)', drover: f(rp, 2), peers: '', target: '> 1 (ahead)', pass: rp == null && !s.tsp.some((r) => r.jobsPerSec) ? null : rp != null && rp > 1 },
    { metric: 'jobs succeeded (worst round)', drover: `${minOk}/${n.throughput}`, peers: '', target: `${n.throughput}/${n.throughput}`, pass: s.throughput.length > 0 && minOk === n.throughput },
    { metric: `sweep submit, ${n.sweep} runs, one POST (ms)`, drover: withSpread(f(sw?.postMs, 0), spread(s.sweep, (r) => r.postMs)), peers: '', target: '< 1000', pass: sw ? sw.postMs < 1000 && !sw.note : false },
    { metric: 'idle server RSS (MB)', drover: f(m?.idleMiB), peers: '', target: '< 80', pass: m ? m.idleMiB < 80 : false },
    { metric: `server RSS, ${n.queued} queued jobs (MB)`, drover: f(m?.loadedMiB), peers: '', target: '< 250', pass: m ? m.loadedMiB < 250 && !m.note : false },
    { metric: `  wall time for ${n.throughput} jobs (s)`, drover: f(t?.seconds, 2), peers: `xargs ${f(x?.seconds, 2)}; tsp ${f(p?.seconds, 2)}`, target: '', pass: null },
    { metric: `  POST /runs with a ${n.throughput}-job stage (ms)`, drover: f(t?.postMs, 0), peers: '', target: '', pass: null },
    { metric: `  RSS after ${n.throughput} jobs / peak (MB)`, drover: t ? `${f(t.afterRssMiB)} / ${f(t.peakRssMiB)}` : 'n/a', peers: '', target: '', pass: null },
    { metric: `  ${n.sweep}-run group: cancel until settled (ms)`, drover: f(sw?.settledMs, 0), peers: '', target: '', pass: null },
    { metric: `  POST /runs with a ${n.queued}-run sweep (ms)`, drover: f(m?.postMs, 0), peers: '', target: '', pass: null },
    { metric: `  peak RSS with ${n.queued} queued (MB)`, drover: f(m?.peakMiB), peers: '', target: '', pass: null },
    { metric: `  ${n.queued}-run group: cancel until settled (ms)`, drover: f(m?.settledMs, 0), peers: '', target: '', pass: null },
  ];
}

/** Notes worth printing under the table (timeouts, wrong counts, skipped peers). */
export function notes(s: Samples): string[] {
  const all = [...s.throughput, ...s.sweep, ...s.rss, ...s.xargs, ...s.tsp] as { note: string }[];
  return [...new Set(all.map((r) => r.note).filter(Boolean))];
}
