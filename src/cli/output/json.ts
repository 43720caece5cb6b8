// JSON Output (`--json`): prints what the server answered, pretty-printed, one document
// per call. No reshaping, so scripts see exactly the API's objects (API.md §2).
import type { Output } from '../types.ts';

const print = (v: unknown) => void process.stdout.write(JSON.stringify(v ?? null, null, 2) + '\n');

export function jsonOutput(): Output {
  return {
    submitted: print,
    preview: print,
    finished: print,
    list: (_kind, page) => print(page),
    run: print,
    group: (g) => print(g),
    results: (rows) => print({ items: rows, next_cursor: null }),
    job: print,
    why: print,
    queue: print,
    gc: (report) => print(report),
    action: (_verb, _id, res) => print(res ?? { ok: true }),
    tokenCreated: print,
    tokens: print,
    text: (s) => {
      try {
        print(JSON.parse(s));
      } catch {
        print(s);
      }
    },
  };
}
