// Sweep results (GET /groups/:id/results, `drover results`, `drover status GROUP`): one row per run with
// params, outputs, status, exit code and times; CSV that Python's csv module reads with one column per
// param and per output key; numbers sort as numbers. Also: retention GC removes a run's shared work dir.
import { test, expect, beforeAll, afterAll } from 'bun:test';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, DROVER_CMD, type TestServer } from '../helpers/server.ts';

let s: TestServer;
let group: { id: string };
let runs: { id: string; params: { lr: number } }[];
beforeAll(async () => {
  s = await startServer(['--max-parallel', '3']);
  const spec = {
    name: 'results-sweep', matrix: { lr: [10, 2, 0.5] }, params: { epochs: 3 },
    stages: [
      { name: 'train', jobs: [{ name: 't', commands: ['echo score=${{ params.lr }} >> "$DROVER_OUTPUT"', `echo 'note=a,"b"' >> "$DROVER_OUTPUT"`] }] },
      // the lr=2 point fails after its outputs are written
      { name: 'eval', needs: ['train'], jobs: [{ name: 'e', commands: ['echo acc=0.${{ params.epochs }} >> "$DROVER_OUTPUT"; [ ${{ params.lr }} != 2 ] || exit 4'] }] },
    ],
  };
  ({ group, runs } = await s.submit(spec));
  await s.waitGroup(group.id);
});
afterAll(() => s?.stop());

function drover(args: string[], env: Record<string, string> = {}) {
  const p = Bun.spawnSync([...DROVER_CMD, ...args], { cwd: s.root, env: { ...process.env, DROVER_DATA_DIR: s.dataDir, ...env } });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

test('JSON: one row per run in sweep order with params, outputs, status, exit code and times', async () => {
  const r = await s.api('GET', `/groups/${group.id}/results`);
  expect(r.status).toBe(200);
  expect(r.body.next_cursor).toBeNull();
  const rows = r.body.items;
  expect(rows.map((x: any) => x.run_id)).toEqual(runs.map((x) => x.id));
  expect(rows.map((x: any) => [x.params, x.outputs, x.status, x.exit_code])).toEqual([
    [{ epochs: 3, lr: 10 }, { score: '10', note: 'a,"b"', acc: '0.3' }, 'succeeded', 0],
    [{ epochs: 3, lr: 2 }, { score: '2', note: 'a,"b"', acc: '0.3' }, 'failed', 4],
    [{ epochs: 3, lr: 0.5 }, { score: '0.5', note: 'a,"b"', acc: '0.3' }, 'succeeded', 0],
  ]);
  for (const x of rows) {
    expect(typeof x.took_s).toBe('number');
    expect(x.took_s).toBeGreaterThanOrEqual(0);
    expect(Date.parse(x.ended_at)).toBeGreaterThanOrEqual(Date.parse(x.started_at));
  }
});

test('sort=KEY sorts numbers as numbers (params and numeric outputs), -KEY descending; an unknown key is a 400', async () => {
  const order = async (sort: string) => (await s.api('GET', `/groups/${group.id}/results?sort=${encodeURIComponent(sort)}`)).body.items.map((x: any) => x.params.lr);
  expect(await order('lr')).toEqual([0.5, 2, 10]);
  expect(await order('score')).toEqual([0.5, 2, 10]); // '10' < '2' as text
  expect(await order('-score')).toEqual([10, 2, 0.5]);
  expect(await order('exit_code')).toEqual([10, 0.5, 2]); // ties keep the sweep's order
  const bad = await s.api('GET', `/groups/${group.id}/results?sort=nope`);
  expect(bad.status).toBe(400);
  expect(bad.body.error.message).toContain("no column, param or output named 'nope'");
  expect((await s.api('GET', `/groups/${group.id}/results?format=xml`)).status).toBe(400);
  expect((await s.api('GET', '/groups/g_missing/results')).status).toBe(404);
});

test("CSV opens in Python's csv module with one column per param and per output key", async () => {
  const r = await s.api('GET', `/groups/${group.id}/results?format=csv`);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toContain('text/csv');
  const file = join(s.root, 'results.csv');
  writeFileSync(file, r.text);
  const py = Bun.spawnSync(['python3', '-c', `
import csv, json, sys
with open(sys.argv[1], newline="") as f:
    rows = list(csv.DictReader(f))
    print(json.dumps({"fields": list(rows[0].keys()), "rows": rows}))
`, file]);
  expect(py.exitCode).toBe(0);
  const parsed = JSON.parse(py.stdout.toString());
  expect(parsed.fields).toEqual(['run_id', 'status', 'epochs', 'lr', 'score', 'note', 'acc', 'exit_code', 'started_at', 'ended_at', 'took_s']);
  expect(parsed.rows.map((x: any) => [x.run_id, x.status, x.lr, x.epochs, x.score, x.note, x.acc, x.exit_code])).toEqual([
    [runs[0]!.id, 'succeeded', '10', '3', '10', 'a,"b"', '0.3', '0'],
    [runs[1]!.id, 'failed', '2', '3', '2', 'a,"b"', '0.3', '4'],
    [runs[2]!.id, 'succeeded', '0.5', '3', '0.5', 'a,"b"', '0.3', '0'],
  ]);
});

test('the CLI: results as a table, --csv, --json, --sort; status GROUP shows the same table cut to the terminal width', () => {
  const table = drover(['results', group.id]);
  expect(table.code).toBe(0);
  const lines = table.out.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^RUN\s+STATUS\s+epochs\s+lr\s+score\s+note\s+acc\s+EXIT\s+TOOK$/);
  expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 4))).toEqual(runs.map((r, i) => [r.id, i === 1 ? 'failed' : 'succeeded', '3', String(r.params.lr)]));

  const sorted = drover(['results', group.id, '--sort', '-lr']);
  expect(sorted.out.trimEnd().split('\n').slice(1).map((l) => l.split(/\s+/)[3])).toEqual(['10', '2', '0.5']);

  const csv = drover(['results', group.id, '--csv']);
  expect(csv.code).toBe(0);
  expect(csv.out.split('\r\n')[0]).toBe('run_id,status,epochs,lr,score,note,acc,exit_code,started_at,ended_at,took_s');
  expect(csv.out).toContain(`${runs[1]!.id},failed,3,2,2,"a,""b""",0.3,4,`);

  const json = drover(['results', group.id, '--json']);
  expect(JSON.parse(json.out).items.map((x: any) => x.exit_code)).toEqual([0, 4, 0]);
  expect(drover(['results', group.id, '--csv', '--json']).code).toBe(2);
  expect(drover(['results', runs[0]!.id]).code).toBe(2);

  const status = drover(['status', group.id], { COLUMNS: '60' });
  expect(status.code).toBe(0);
  expect(status.out).toContain(`group ${group.id}`);
  const rows = status.out.split('\n').filter((l) => l.startsWith('r_') || l.startsWith('RUN'));
  expect(rows).toHaveLength(4);
  for (const l of rows) expect(l.length).toBeLessThanOrEqual(60);
  expect(rows.some((l) => l.endsWith('…'))).toBe(true);
  const wide = drover(['status', group.id], { COLUMNS: '400' });
  expect(wide.out).toMatch(/RUN\s+STATUS\s+epochs\s+lr\s+score\s+note\s+acc\s+EXIT\s+TOOK/);
});

test('retention GC removes a run with its shared work dir', async () => {
  const spec = (i: number) => ({ name: 'gc-work', retention: { keep_last: 1 }, stages: [{ name: 'a', commands: [`echo ${i} > kept.txt`] }] });
  const first = (await s.submit(spec(1))).run;
  await s.waitRun(first.id);
  expect(existsSync(join(first.dir, 'work', 'kept.txt'))).toBe(true);
  await s.waitRun((await s.submit(spec(2))).run.id);
  const gc = await s.api('POST', '/gc');
  expect(gc.status).toBe(200);
  expect(existsSync(join(first.dir, 'work'))).toBe(false);
  expect((await s.api('GET', `/runs/${first.id}`)).status).toBe(404);
});
