// The runner's last command in its own shell (inlineLast, for executors that signal whole process
// groups): real bash runs of the same commands rendered both ways must leave the same record — exit
// code in meta/<n>.json, the __DROVER_RC marker, the command's own output in logs/<n>.log — however the
// command ends, and a TERM to the process group must end it with 143 and a record.
import { test, expect, afterAll } from 'bun:test';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderScript, inlineable } from '../../src/runner/script.ts';

const roots: string[] = [];
afterAll(() => { for (const r of roots) rmSync(r, { recursive: true, force: true }); });

function jobDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'drover-inline-'));
  roots.push(dir);
  mkdirSync(join(dir, 'logs')); mkdirSync(join(dir, 'meta'));
  return dir;
}

function script(dir: string, commands: string[], inlineLast: boolean): string {
  const text = renderScript({ jobId: 'j', attempt: 1, dir, workdir: dir, env: {}, commands: commands.map((run) => ({ run, allow_failure: false })), inlineLast });
  writeFileSync(join(dir, 'job.sh'), text, { mode: 0o700 });
  return join(dir, 'job.sh');
}

interface Record { rc: number | null; meta: (number | null)[]; logs: string[]; exit: number | null }
function record(dir: string, n: number, exit: number | null): Record {
  const out = readFileSync(join(dir, 'job.out'), 'utf8');
  const rc = /__DROVER_RC=(\d+)/.exec(out);
  const meta = [...Array(n).keys()].map((i) => existsSync(join(dir, 'meta', `${i}.json`)) ? JSON.parse(readFileSync(join(dir, 'meta', `${i}.json`), 'utf8')).exit_code as number : null);
  const logs = [...Array(n).keys()].map((i) => existsSync(join(dir, 'logs', `${i}.log`)) ? readFileSync(join(dir, 'logs', `${i}.log`), 'utf8').replaceAll(dir, 'DIR').replace(/line \d+/g, 'line N') : '');
  return { rc: rc ? Number(rc[1]) : null, meta, logs, exit };
}

function runBoth(commands: string[]): [Record, Record] {
  return [false, true].map((inline) => {
    const dir = jobDir();
    const p = Bun.spawnSync(['bash', script(dir, commands, inline)], { stdin: 'ignore' });
    return record(dir, commands.length, p.exitCode);
  }) as [Record, Record];
}

const CASES: [string, string[], number][] = [
  ['success with output on both streams', ['echo out; echo err >&2'], 0],
  ['a failing command', ['false'], 1],
  ['exit N', ['echo before; exit 7; echo after'], 7],
  ['a syntax error', ['echo ('], 2],
  ['set -e stops at the first failure', ['set -e; false; echo not here'], 1],
  ['set -e in an earlier command stops it too', ['set -e; false; echo not here', 'echo never'], 1],
  ['an unset variable under set -u', ['set -u; echo "$NOPE_NOT_SET"'], 1],
  ['exit inside a subshell does not end the command', ['(exit 3); echo still here'], 0],
  ['a return at the top of the command', ['echo a; return 4; echo b'], 4],
  ['earlier commands in children, the last inline', ['cd /; echo first', '[ "$PWD" != / ] && echo own-workdir; exit 5'], 5],
  ['an earlier failure stops before the last', ['exit 9', 'echo never'], 9],
];

for (const [name, commands, code] of CASES) {
  test(`inline and child runs leave the same record: ${name}`, () => {
    const [child, inline] = runBoth(commands);
    expect(inline).toEqual(child);
    expect(inline.rc).toBe(code);
    expect(inline.exit).toBe(code);
  });
}

test('the last command runs in the runner\'s own shell only when inlined', () => {
  for (const inline of [false, true]) {
    const dir = jobDir();
    Bun.spawnSync(['bash', script(dir, ['echo "$$ $BASHPID"'], inline)], { stdin: 'ignore' });
    const [pid, bashpid] = readFileSync(join(dir, 'logs', '0.log'), 'utf8').trim().split(' ');
    expect([inline, pid === bashpid]).toEqual([inline, inline]);
  }
});

test('commands that could escape the runner (exec, trap, xtrace) and allow_failure run in a child', () => {
  for (const run of ['exec python3 x.py', 'trap "echo x" EXIT; true', 'set -x; true', 'set -euxo pipefail', 'set -o xtrace']) expect([run, inlineable({ run, allow_failure: false })]).toEqual([run, false]);
  expect(inlineable({ run: 'true', allow_failure: true })).toBe(false);
  for (const run of ['true', 'set -euo pipefail; make', 'python3 train.py --executor=x', 'echo trapped']) expect([run, inlineable({ run, allow_failure: false })]).toEqual([run, true]);
  const dir = jobDir();
  Bun.spawnSync(['bash', script(dir, ['trap "echo trapped-exit" EXIT; echo "$$ $BASHPID"'], true)], { stdin: 'ignore' });
  const log = readFileSync(join(dir, 'logs', '0.log'), 'utf8');
  const [pid, bashpid] = log.split('\n')[0]!.split(' ');
  expect(pid).not.toBe(bashpid); // (its trap is its own, in a child: the runner's record is intact)
  expect(log).toContain('trapped-exit');
  expect(record(dir, 1, 0).rc).toBe(0);
});

for (const [name, command] of [['an external command it waits for', 'sleep 30'], ['a loop of builtins', 'while :; do :; done']] as const) {
  test(`a TERM to the process group ends ${name} with 143 and a record`, async () => {
    const dir = jobDir();
    const p = Bun.spawn(['bash', script(dir, [command], true)], { stdin: 'ignore', detached: true });
    const t0 = Date.now();
    while (!readFileSync(join(dir, 'job.out'), { encoding: 'utf8', flag: 'a+' }).includes('__DROVER_PID') && Date.now() - t0 < 10_000) await Bun.sleep(20);
    await Bun.sleep(200);
    process.kill(-p.pid, 'SIGTERM');
    expect(await p.exited).toBe(143);
    expect(record(dir, 1, 143)).toMatchObject({ rc: 143, meta: [143] });
  });
}
