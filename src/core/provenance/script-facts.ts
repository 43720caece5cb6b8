// Reads provenance facts back from a job's job.sh, the exact script that ran: the names of the
// environment variables it exports (never their values) and each command line as rendered. The
// script is generated (runner/script.ts): every value is one single-quoted word ('\'' for a quote),
// the only construct that spans lines, so a scanner that knows single quotes finds real line starts.
export interface ScriptFacts { envNames: string[]; commands: Map<number, string> }

/** The single-quoted word at text[i] (which is `'`), unquoted, and the index after it. */
function quoted(text: string, i: number): { value: string; end: number } {
  let value = '';
  let j = i + 1;
  for (;;) {
    const close = text.indexOf("'", j);
    if (close < 0) return { value: value + text.slice(j), end: text.length };
    value += text.slice(j, close);
    if (text.startsWith("\\''", close + 1)) { value += "'"; j = close + 4; continue; }
    return { value, end: close + 1 };
  }
}

export function scriptFacts(text: string): ScriptFacts {
  const envNames: string[] = [];
  const commands = new Map<number, string>();
  let i = 0;
  while (i < text.length) {
    // i is at a real line start
    if (text.startsWith('export ', i)) {
      let j = i + 7;
      for (;;) {
        const m = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(text.slice(j, j + 256));
        if (!m) break;
        envNames.push(m[1]!);
        j += m[0].length;
        if (text[j] === "'") j = quoted(text, j).end;
        else if (text[j] === '"') j = text.indexOf('"', j + 1) + 1 || text.length;
        else while (j < text.length && !/\s/.test(text[j]!)) j++;
        while (text[j] === ' ') j++;
      }
      i = j;
    } else {
      const m = /^__drover_cmd (\d+) '/.exec(text.slice(i, i + 40));
      if (m) {
        const q = quoted(text, i + m[0].length - 1);
        commands.set(Number(m[1]), q.value);
        i = q.end;
      }
    }
    // on to the next real line start, skipping single-quoted words
    while (i < text.length && text[i] !== '\n') i = text[i] === "'" ? quoted(text, i).end : i + 1;
    i++;
  }
  return { envNames: [...new Set(envNames)], commands };
}
