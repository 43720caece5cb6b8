// Allocation queues on Slurm (core/alloc/types.ts AllocBackend): `sbatch --test-only` to check a
// queue's arguments at `alloc add`, one sbatch per allocation, ONE squeue (by job names) per pass for
// every live allocation, scancel, and sinfo for the partition's hosts and the shape of its nodes. Argv only, through SlurmCli.
import type { AllocBackend, AllocObservation, SubmitRequest } from '../../core/alloc/types.ts';
import { SlurmCli, firstLine } from './cli.ts';
import { slurmOptions, type SlurmOptions } from './options.ts';
import { parseJobId, slurmPathPattern, slurmTime, TRANSIENT_SUBMIT } from './sbatch.ts';
import { ruleFor } from './state-map.ts';
import { parseNodeShapes } from '../../core/alloc/shape.ts';

/** Options drover sets itself (or that would take the allocation's output, name, shape or script away). */
const DRIVEN: Record<string, string> = {
  'job-name': 'drover names the allocation', J: 'drover names the allocation',
  output: 'drover keeps the output for `alloc log`', o: 'drover keeps the output for `alloc log`',
  error: 'drover keeps the output for `alloc log`', e: 'drover keeps the output for `alloc log`',
  time: 'use --time of `alloc add`', t: 'use --time of `alloc add`',
  nodes: 'use --nodes of `alloc add`', N: 'use --nodes of `alloc add`',
  array: 'an allocation is one job', a: 'an allocation is one job',
  wrap: 'drover writes the script', parsable: 'drover reads the job id itself', 'test-only': 'drover tests the arguments itself',
  export: 'the agent needs the server\'s environment as Slurm passes it', 'export-file': 'the agent needs the server\'s environment',
  chdir: 'the agent works in its own folder', D: 'the agent works in its own folder', input: 'the agent reads no input', i: 'the agent reads no input',
  dependency: 'drover decides when to submit', d: 'drover decides when to submit', hold: 'a held allocation never starts', H: 'a held allocation never starts',
};

const SQUEUE_ALLOC_FORMAT = 'JobID:0|,Name:0|,State:0|,Reason:0|,NodeList:0|';

/** The partition the sbatch arguments name (`--partition=P`, `--partition P`, `-pP`, `-p P`), else null. */
function partitionOf(args: string[]): string | null {
  let partition: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const m = /^--partition=(.+)$/.exec(args[i]!) ?? /^-p(.+)$/.exec(args[i]!);
    if (m) partition = m[1]!;
    else if ((args[i] === '--partition' || args[i] === '-p') && args[i + 1]) partition = args[i + 1]!;
  }
  return partition;
}

export function createSlurmAllocBackend(opts: Partial<SlurmOptions> = {}): AllocBackend {
  const o: SlurmOptions = { ...slurmOptions(), ...opts };
  const cli = new SlurmCli({ path: o.path, timeoutMs: o.callTimeoutMs });
  const base = (r: Pick<SubmitRequest, 'name' | 'timeMs' | 'nodes' | 'args'>) => [`--job-name=${r.name}`, `--time=${slurmTime(r.timeMs)}`, `--nodes=${r.nodes}`, ...r.args];
  const message = (stderr: string, code: number | null) => stderr.split('\n').map((l) => l.trim()).filter(Boolean).join(' ').replace(/sbatch: error: /g, '') || `exit ${code}`;

  return {
    checkArgs(args: string[]): string | null {
      for (const a of args) {
        const m = /^--([a-zA-Z][\w-]*)(=.*)?$/s.exec(a) ?? /^-([a-zA-Z])(.*)$/s.exec(a);
        if (!m) continue; // a value of the option before it
        const why = DRIVEN[m[1]!];
        if (why) return `sbatch option ${a.length > 40 ? a.slice(0, 40) + '…' : a} is not allowed in an allocation queue: ${why}`;
        if (/[\n\r]/.test(a)) return `sbatch option ${m[1]} has a line break in its value`;
      }
      return null;
    },

    async test(req) {
      const r = await cli.run('sbatch', ['--test-only', ...base(req), '--wrap=true']);
      if (r.missing) return { message: `sbatch is not installed here (looked in ${o.path})`, unavailable: true };
      if (r.ok) return null;
      return { message: message(r.stderr, r.code), unavailable: r.timedOut || TRANSIENT_SUBMIT.test(r.stderr) };
    },

    async submit(req) {
      const r = await cli.run('sbatch', ['--parsable', ...base(req), `--output=${slurmPathPattern(req.outputPath)}`, req.scriptPath]);
      const id = r.ok ? parseJobId(r.stdout) : null;
      if (id) return { ok: true, slurmId: id };
      const unknown = r.timedOut || (!r.ok && /timed out|Zero Bytes/i.test(r.stderr));
      const error = r.ok ? `sbatch printed no job id: ${firstLine(r.stdout)}` : message(r.stderr, r.code);
      return { ok: false, error: TRANSIENT_SUBMIT.test(error) ? `the Slurm controller did not take it: ${error}` : error, unknown };
    },

    async observe(names) {
      if (!names.length) return new Map();
      const r = await cli.run('squeue', ['--noheader', '--states=all', `--user=${o.user}`, `--name=${names.join(',')}`, `--Format=${SQUEUE_ALLOC_FORMAT}`]);
      if (!r.ok) return null;
      const out = new Map<string, AllocObservation>();
      for (const line of r.stdout.split('\n')) {
        const f = line.split('|').map((x) => x.trim());
        if (f.length < 5 || !/^\d+$/.test(f[0]!)) continue;
        const [slurmId, name, state, reason, node] = f as [string, string, string, string, string];
        const rule = ruleFor(state);
        const phase = rule?.kind === 'active' ? rule.phase : rule ? 'ended' : (node && node !== '(null)' ? 'running' : 'pending');
        out.set(name, { slurmId, phase, state, reason, node: node === '(null)' ? '' : node });
      }
      return out;
    },

    async cancel(slurmId) {
      await cli.run('scancel', [slurmId]);
    },

    async hosts(args) {
      const partition = partitionOf(args);
      const r = await cli.run('sinfo', ['--noheader', '--format=%n', ...(partition ? [`--partition=${partition}`] : [])]);
      if (!r.ok) return null;
      return [...new Set(r.stdout.split('\n').map((l) => l.trim()).filter(Boolean))];
    },

    async nodeShape(args) {
      // without --partition: the default one, which sinfo marks with a '*'
      const partition = partitionOf(args);
      const r = await cli.run('sinfo', ['--noheader', '--format=%P|%c|%G', ...(partition ? [`--partition=${partition}`] : [])]);
      if (!r.ok) return null;
      const rows = r.stdout.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => l.split('|'));
      const mine = partition ? rows : rows.some((f) => f[0]!.endsWith('*')) ? rows.filter((f) => f[0]!.endsWith('*')) : rows;
      return parseNodeShapes(mine.map((f) => f.slice(1).join('|')));
    },

    calls() {
      const s = cli.stats.get('sbatch');
      return { sbatch: s?.calls ?? 0, sbatch_failures: s?.failures ?? 0 };
    },
  };
}
