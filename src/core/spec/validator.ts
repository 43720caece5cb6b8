// rejectDangerous: refuse commands that match obvious destructive patterns (rm -rf /, fork bombs,
// mkfs / dd onto block devices). A guard against accidents, not a sandbox.
import { DroverError } from '../errors.ts';
import type { PipelineSpec } from './types.ts';

const ARG = String.raw`[^\s;&|()]+`;
const RULES: { what: string; test: (cmd: string, squeezed: string) => boolean }[] = [
  // rm with any options/args whose target is exactly / or /* (optionally quoted); rm -rf /tmp/x is fine.
  { what: 'rm of /', test: (c) => new RegExp(String.raw`(^|[\s;&|()\x60])(sudo\s+)?rm\s+(${ARG}\s+)*?["']?/\*?["']?(?=$|[\s;&|)])`).test(c) },
  // :(){ :|:& };:  and the same shape with any function name
  { what: 'fork bomb', test: (_c, s) => /([A-Za-z_:][\w:]*)\(\)\{\1\|\1&\};\1/.test(s) },
  { what: 'mkfs on a device', test: (c) => new RegExp(String.raw`\bmkfs(\.\w+)?\b[^;&|]*\s/dev/`).test(c) },
  { what: 'dd onto a disk', test: (c) => /\bdd\b[^;&|]*\bof=\/dev\/(sd|hd|vd|xvd|nvme|mmcblk|disk)/.test(c) },
];

/** The name of the rule a command breaks, or null. */
export function dangerousPattern(cmd: string): string | null {
  const squeezed = cmd.replace(/\s+/g, '');
  for (const r of RULES) if (r.test(cmd, squeezed)) return r.what;
  return null;
}

export function rejectDangerous(spec: PipelineSpec): void {
  spec.stages.forEach((stage, i) => stage.jobs.forEach((job, j) => job.commands.forEach((cmd, k) => {
    const what = dangerousPattern(cmd.run);
    if (what) {
      const path = `stages[${i}].jobs[${j}].commands[${k}]`;
      throw new DroverError('rejected_by_validator', `${path}: command refused by the validator (${what})`, { path, rule: what });
    }
  })));
}
