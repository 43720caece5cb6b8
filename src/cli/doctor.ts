// `drover doctor [--skip CHECK,...] [--json]`: checks this installation (data dir filesystem, free
// space, SQLite integrity, clock, Slurm clients, nvidia-smi, the server and its token, file modes) and
// prints every problem with its fix. Exit 0 when nothing failed (warnings allowed), 1 otherwise.
// The checks themselves are in doctor/checks.ts.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CliError } from './args.ts';
import { defineCommand } from './command.ts';
import { resolveDataDir, resolveUrl, resolveToken } from './client.ts';
import { runChecks, CHECKS, type Check, type Finding } from '../doctor/checks.ts';
import pkg from '../../package.json';

const MARK = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' } as const;

function human(dataDir: string, findings: Finding[]): string {
  const lines = [`drover doctor: data dir ${dataDir}`];
  for (const f of findings) {
    lines.push(`  ${MARK[f.level]}  ${f.check.padEnd(10)}  ${f.message}`);
    if (f.fix && f.level !== 'ok') lines.push(`  ${' '.repeat(16)}fix: ${f.fix}`);
  }
  const fails = findings.filter((f) => f.level === 'fail').length;
  const warns = findings.filter((f) => f.level === 'warn').length;
  lines.push(fails ? `${fails} problem(s), ${warns} warning(s)` : `healthy${warns ? ` (${warns} warning(s))` : ''}`);
  return lines.join('\n') + '\n';
}

export const doctorCommand = defineCommand({
  name: 'doctor',
  usage: 'doctor [--skip CHECK,...] [--json]',
  summary: `Check this installation and print each problem with its fix; exit 0 when healthy, 1 otherwise.\nChecks: ${CHECKS.join(', ')}.`,
  flags: {
    skip: { type: 'string', value: 'LIST', help: `checks to leave out, comma-separated (${CHECKS.join(', ')})` },
  },
  async run({ flags }) {
    const skip = new Set((flags.skip ?? '').split(',').map((s) => s.trim()).filter(Boolean));
    for (const s of skip) if (!(CHECKS as readonly string[]).includes(s)) throw new CliError(`drover doctor: unknown check '${s}' in --skip (known: ${CHECKS.join(', ')})`);
    const conn = { url: flags.url, dataDir: flags['data-dir'], tokenFile: flags['token-file'] };
    const dataDir = resolve(resolveDataDir(conn));
    const findings = await runChecks({
      dataDir, url: resolveUrl(conn, process.env, dataDir),
      urlExpected: Boolean(flags.url || process.env.DROVER_URL || existsSync(join(dataDir, 'server.json'))),
      token: resolveToken(conn, process.env, dataDir), tokenFile: flags['token-file'],
      slurmPath: process.env.DROVER_SLURM_PATH ?? process.env.PATH ?? '/usr/bin:/bin', path: process.env.PATH ?? '/usr/bin:/bin',
      version: pkg.version, skip: skip as Set<Check>,
    });
    const healthy = !findings.some((f) => f.level === 'fail');
    process.stdout.write(flags.json ? JSON.stringify({ ok: healthy, data_dir: dataDir, checks: findings }, null, 2) + '\n' : human(dataDir, findings));
    return healthy ? 0 : 1;
  },
});
