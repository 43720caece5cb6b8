// Failpoints: named places where a test can make this process pause, hang or die, to reproduce
// races that real timing only produces in the field (a finalizer that stalls, or dies half-way).
// Off unless DROVER_FAILPOINTS is set, e.g. `finalize=sleep(3000)`, `finalize=hang`, `finalize=crash`
// (`;` between several). Bootstrap parses the variable once; core code asks by name.
export type Failpoints = { has(name: string): boolean; hit(name: string): Promise<void> };

type Action = { kind: 'sleep'; ms: number } | { kind: 'hang' } | { kind: 'crash' };

export function parseFailpoints(text: string | undefined): Failpoints | undefined {
  if (!text?.trim()) return undefined;
  const actions = new Map<string, Action>();
  for (const part of text.split(';').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([\w.-]+)=(?:sleep\((\d+)\)|(hang)|(crash))$/.exec(part);
    if (!m) throw new Error(`DROVER_FAILPOINTS: cannot parse '${part}' (expected name=sleep(MS), name=hang or name=crash)`);
    actions.set(m[1]!, m[2] ? { kind: 'sleep', ms: Number(m[2]) } : m[3] ? { kind: 'hang' } : { kind: 'crash' });
  }
  return {
    has: (name) => actions.has(name),
    hit(name) {
      const a = actions.get(name);
      if (!a) return Promise.resolve();
      if (a.kind === 'crash') process.kill(process.pid, 'SIGKILL');
      if (a.kind === 'sleep') return new Promise((r) => setTimeout(r, a.ms));
      return new Promise(() => {}); // hang: never settles
    },
  };
}
