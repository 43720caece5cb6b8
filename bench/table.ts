// Rendering of the result rows as a fixed-width text table. Knows nothing about drover.
export interface Row { metric: string; drover: string; peers: string; target: string; pass: boolean | null }

export function verdict(pass: boolean | null): string {
  return pass === null ? 'info' : pass ? 'PASS' : 'FAIL';
}

export function renderTable(rows: Row[]): string {
  const head = ['metric', 'drover', 'peers', 'target', 'pass/fail'];
  const cells = rows.map((r) => [r.metric, r.drover, r.peers, r.target, verdict(r.pass)]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i])).join(' | ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('-|-'), ...cells.map(line)].join('\n');
}
