// The pre-exec command validator: refuses commands that match obvious destructive patterns (rm -rf /,
// fork bombs, mkfs / dd onto block devices) and `rm` (or `find … -delete`) of the home directory, of
// the workspace root, of the job's own working directory (or a folder holding either), or of anything
// outside both the workspace root and the working directory (`rm -rf ../..`). It runs on the spec at submit (400 rejected_by_validator)
// and again on the rendered commands just before a job starts (params are known only then).
// Each refusal names its rule; a pipeline lists regexes in `validator: {allow: [...]}` for commands
// the validator gets wrong. A guard against accidents, not a sandbox: it reads one command line and
// cannot follow `cd`, variables it does not know, or commands run by the commands.
import { homedir } from 'node:os';
import { resolve, sep, basename, dirname } from 'node:path';
import { DroverError } from '../errors.ts';
import { canonical } from '../workspace.ts';
import type { PipelineSpec } from './types.ts';

export interface CommandContext {
  /** the server's --workspace-root; without it only the pattern rules apply */
  workspaceRoot?: string;
  /** where the command runs (the workspace, or the job folder); relative paths resolve here */
  workdir?: string | null;
  /** the pipeline's validator.allow regexes: a command matching one is never refused */
  allow?: readonly string[];
  home?: string;
}

export interface Refusal { rule: string; message: string; target?: string }

const ARG = String.raw`[^\s;&|()]+`;
const PATTERN_RULES: { rule: string; what: string; test: (cmd: string, squeezed: string) => boolean }[] = [
  // rm with any options/args whose target is exactly / or /* (optionally quoted); rm -rf /tmp/x is left to the path rules.
  { rule: 'rm_root', what: 'rm of /', test: (c) => new RegExp(String.raw`(^|[\s;&|()\x60])(sudo\s+)?rm\s+(${ARG}\s+)*?["']?/\*?["']?(?=$|[\s;&|)])`).test(c) },
  // :(){ :|:& };:  and the same shape with any function name
  { rule: 'fork_bomb', what: 'fork bomb', test: (_c, s) => /([A-Za-z_:][\w:]*)\(\)\{\1\|\1&\};\1/.test(s) },
  { rule: 'mkfs_device', what: 'mkfs on a device', test: (c) => new RegExp(String.raw`\bmkfs(\.\w+)?\b[^;&|]*\s/dev/`).test(c) },
  { rule: 'dd_disk', what: 'dd onto a disk', test: (c) => /\bdd\b[^;&|]*\bof=\/dev\/(sd|hd|vd|xvd|nvme|mmcblk|disk)/.test(c) },
];

/** The name of the pattern rule a command breaks, or null (the path rules need a context: commandRefusal). */
export function dangerousPattern(cmd: string): string | null {
  const squeezed = cmd.replace(/\s+/g, '');
  for (const r of PATTERN_RULES) if (r.test(cmd, squeezed)) return r.what;
  return null;
}

/** Why a command is refused (rule + message), or null. */
export function commandRefusal(cmd: string, ctx: CommandContext = {}): Refusal | null {
  if (ctx.allow?.some((re) => new RegExp(re).test(cmd))) return null;
  const squeezed = cmd.replace(/\s+/g, '');
  for (const r of PATTERN_RULES) if (r.test(cmd, squeezed)) return { rule: r.rule, message: r.what };
  if (!ctx.workspaceRoot || !/\b(rm|find)\b/.test(cmd)) return null;
  for (const words of simpleCommands(cmd)) {
    const { paths, contents } = deletedPaths(words);
    for (const t of paths) {
      const why = pathRefusal(t, ctx, contents);
      if (why) return why;
    }
  }
  return null;
}

export function rejectDangerous(spec: PipelineSpec, ctx: Omit<CommandContext, 'allow'> = {}): void {
  spec.stages.forEach((stage, i) => stage.jobs.forEach((job, j) => job.commands.forEach((cmd, k) => {
    const refused = commandRefusal(cmd.run, { ...ctx, allow: spec.validator?.allow });
    if (refused) {
      const path = `stages[${i}].jobs[${j}].commands[${k}]`;
      throw new DroverError('rejected_by_validator',
        `${path}: command refused by the validator (rule ${refused.rule}: ${refused.message}); if it is meant, allow it with validator: {allow: ["<regex>"]} in the spec`,
        { path, rule: refused.rule, ...(refused.target ? { target: refused.target } : {}) });
    }
  })));
}

const under = (root: string, p: string) => p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);
const strictlyUnder = (root: string, p: string) => p !== root && under(root, p);

/** `contents`: the command deletes what is below the path, not the path itself (find's start point). */
function pathRefusal(target: string, ctx: CommandContext, contents = false): Refusal | null {
  const home = ctx.home ?? homedir();
  const root = canonical(ctx.workspaceRoot!);
  const workdir = ctx.workdir ? canonical(ctx.workdir) : root;
  const expanded = expand(target, home, workdir);
  if (expanded === null) return null; // starts with a variable we cannot know
  const abs = canonical(resolve(workdir, expanded));
  const show = `'${target}' (${abs})`;
  if (abs === '/') return { rule: 'rm_root', message: `deletes ${show}, the root directory`, target };
  if (under(abs, canonical(home))) return { rule: 'rm_home', message: `deletes ${show}, the home directory or a folder holding it`, target };
  if (under(abs, root)) return { rule: 'rm_workspace_root', message: `deletes ${show}, the workspace root or a folder holding it`, target };
  if (contents && abs === workdir) return null;
  if (under(abs, workdir)) return { rule: 'rm_workspace', message: `deletes ${show}, the job's own working directory or a folder holding it`, target };
  if (!strictlyUnder(root, abs) && !strictlyUnder(workdir, abs)) {
    return { rule: 'rm_outside_workspace', message: `deletes ${show}, outside the workspace root ${root}`, target };
  }
  return null;
}

/** ~, $HOME, $PWD, $DROVER_WORKDIR expanded; null when the path starts with any other variable. */
function expand(t: string, home: string, workdir: string): string | null {
  if (t === '~' || t.startsWith('~/')) return home + t.slice(1);
  if (/^~[A-Za-z0-9._-]+/.test(t)) return resolve(dirname(home), t.slice(1));
  const m = /^\$(?:\{(\w+)\}|(\w+))(.*)$/s.exec(t);
  if (!m) return t;
  const name = m[1] ?? m[2];
  if (name === 'HOME') return home + m[3];
  if (name === 'PWD' || name === 'DROVER_WORKDIR') return workdir + m[3];
  return null;
}

const WRAPPERS = new Set(['sudo', 'command', 'builtin', 'exec', 'nice', 'nohup', 'time', 'env', 'xargs', 'doas', 'ionice', 'then', 'do', 'else', '{', '!', 'if', 'while', 'until']);

/** The paths a simple command deletes: rm's operands, or find's start points (contents) when it -delete's or -exec's rm. */
function deletedPaths(words: string[]): { paths: string[]; contents: boolean } {
  const none = { paths: [], contents: false };
  let i = 0;
  for (;;) {
    const w = words[i];
    if (w === undefined) return none;
    if (/^[A-Za-z_]\w*=/.test(w)) { i++; continue; }
    if (WRAPPERS.has(w)) { i++; while (words[i]?.startsWith('-')) i++; continue; }
    break;
  }
  const prog = basename(words[i]!);
  const rest = words.slice(i + 1);
  if (prog === 'rm') {
    const out: string[] = [];
    let opts = true;
    for (const w of rest) {
      if (opts && w === '--') { opts = false; continue; }
      if (opts && w.startsWith('-') && w.length > 1) continue;
      out.push(w);
    }
    return { paths: out, contents: false };
  }
  if (prog === 'find' && (rest.includes('-delete') || rest.some((w, k) => (w === '-exec' || w === '-execdir') && basename(rest[k + 1] ?? '') === 'rm'))) {
    const out: string[] = [];
    for (const w of rest) { if (w.startsWith('-') || w === '(' || w === '!') break; out.push(w); }
    return { paths: out.length ? out : ['.'], contents: true };
  }
  return none;
}

/** A command line split into simple commands (words with quotes removed), at ; & | ( ) ` $( and newlines. */
export function simpleCommands(cmd: string): string[][] {
  const out: string[][] = [];
  let words: string[] = [];
  let cur = '';
  let inWord = false;
  const endWord = () => { if (inWord) words.push(cur); cur = ''; inWord = false; };
  const endCmd = () => { endWord(); if (words.length) out.push(words); words = []; };
  for (let i = 0; i < cmd.length; i++) {
    const ch = cmd[i]!;
    if (ch === "'") {
      const j = cmd.indexOf("'", i + 1);
      const stop = j < 0 ? cmd.length : j;
      cur += cmd.slice(i + 1, stop); inWord = true; i = stop;
    } else if (ch === '"') {
      let j = i + 1;
      for (; j < cmd.length && cmd[j] !== '"'; j++) {
        if (cmd[j] === '\\' && j + 1 < cmd.length && '"\\$`'.includes(cmd[j + 1]!)) j++;
        cur += cmd[j];
      }
      inWord = true; i = j;
    } else if (ch === '\\') {
      if (i + 1 < cmd.length && cmd[i + 1] !== '\n') { cur += cmd[i + 1]; inWord = true; }
      i++;
    } else if (ch === '\n') endCmd();
    else if (/\s/.test(ch)) endWord();
    else if (';&|()`'.includes(ch)) endCmd();
    else if (ch === '$' && cmd[i + 1] === '(') { endCmd(); i++; }
    else { cur += ch; inWord = true; }
  }
  endCmd();
  return out;
}
