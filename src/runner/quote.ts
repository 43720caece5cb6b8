// shellQuote: THE shell-quoting function. POSIX single quotes, so the result is always exactly one
// word and nothing inside it ($, backticks, newlines, quotes, #SBATCH) is interpreted by the shell.

export function shellQuote(value: unknown): string {
  let s: string;
  if (typeof value === 'string') s = value;
  else if (value === undefined) s = '';
  else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') s = String(value);
  else s = JSON.stringify(value) ?? String(value);
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
