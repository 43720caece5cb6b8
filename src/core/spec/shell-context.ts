// Where a ${{ }} stands in a command, as bash will read it, and the text that makes bash see the
// value EXACTLY there: unquoted → one single-quoted word; inside "…" → \-escaped for double quotes;
// inside '…' or $'…' → close the quote, insert a quoted word, reopen. Backquotes strip one level
// of \ \` \$ (and \" inside "…") before their body is parsed, so each enclosing `…` adds one level of
// escaping. Quoting is tracked through $(…), <(…), `…` (nested), ${…}, case patterns and comments.
// Places where no text is safe (a heredoc, a comment, arithmetic, ${…}, after a \ or a $, an
// unterminated quote) are refused with the offset: the caller turns it into a 400 naming the column.
// The lexer treats each ${{ }} span as opaque word characters. Not here: finding the ${{ }} spans
// and looking up their values (interpolate.ts).

export type Quote = 'word' | 'dq' | 'sq' | 'ansi';
/** The quoting at one ${{ }}: the innermost quote, and each enclosing backquote (innermost first;
 *  `inDq`: that backquote itself stands inside "…", where \" is unescaped too). */
export interface Slot { quote: Quote; backquotes: { inDq: boolean }[] }
export interface Span { start: number; end: number }

export class UnsafeSlot extends Error {
  constructor(readonly offset: number, readonly reason: string) { super(reason); }
}

/** The slot of every span (same order), or UnsafeSlot for the first place where no value is safe. */
export function slotsOf(text: string, spans: readonly Span[]): Slot[] {
  if (!spans.length) return [];
  const out = new Map<number, Slot>();
  new Lexer(text, spans, [], (i) => i, out).run();
  return spans.map((s) => out.get(s.start)!);
}

/** The text to put in place of a ${{ }} whose slot is `slot`, so that bash sees exactly `value`. */
export function insertion(value: string, slot: Slot): string {
  // Inside backquotes bash finds the body with an old string scanner that misreads some quoted text
  // (e.g. "<({" or "{'>(" in "…" inside "`…`"): there the value goes in as $'\xHH' escapes, whose
  // text holds no character that scanner cares about.
  const word = slot.backquotes.length ? hexQuoted(value) : singleQuoted(value);
  let s: string;
  switch (slot.quote) {
    case 'word': s = word; break;
    case 'dq': s = slot.backquotes.length ? `"${word}"` : value.replace(/[\\"$`]/g, '\\$&'); break;
    case 'sq': s = `'${word}'`; break;
    case 'ansi': s = `'${word}$'`; break;
  }
  for (const bq of slot.backquotes) s = s.replace(bq.inDq ? /[\\`$"]/g : /[\\`$]/g, '\\$&');
  return s;
}

/** $'…' with every byte but [A-Za-z0-9_] as \xHH (always two digits, so a following letter is not taken). */
function hexQuoted(value: string): string {
  let s = "$'";
  for (const b of new TextEncoder().encode(value)) {
    s += /[A-Za-z0-9_]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return s + "'";
}

const singleQuoted = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

const BLANK = new Set([' ', '\t']);
const BREAK = new Set([' ', '\t', '\n', ';', '&', '|', '(', ')', '<', '>']);

/** A frame of command text: the whole command, or the body of $( ), <( ), ${ }, $(( )) … */
interface Frame { until: ')' | '}' | ']' | null; arith: boolean; param: boolean }

class Lexer {
  private pos = 0;
  private readonly at = new Map<number, number>(); // span start -> end
  constructor(
    private readonly s: string, spans: readonly Span[],
    private readonly bq: { inDq: boolean }[],
    /** this text's offsets -> the template's (a backquote body is an unescaped copy) */
    private readonly orig: (i: number) => number,
    private readonly out: Map<number, Slot>,
  ) {
    for (const sp of spans) this.at.set(sp.start, sp.end);
  }

  run(): void {
    this.commands({ until: null, arith: false, param: false });
  }

  private refuse(i: number, reason: string): never {
    throw new UnsafeSlot(this.orig(i), reason);
  }

  private record(i: number, quote: Quote, f: Frame | null): void {
    if (f?.arith) this.refuse(i, 'inside arithmetic ($(( )), (( )) or $[ ]), where bash evaluates the value as an expression; assign it to a variable first (n=${{ … }}) and use $n');
    if (f?.param) this.refuse(i, 'inside a ${…} parameter expansion; assign it to a variable first');
    this.out.set(this.orig(i), { quote, backquotes: this.bq });
    this.pos = this.at.get(i)!;
  }

  /** Before a ${{ }}: a \ would escape the value's first character, a $ would join it ($'…', $(…)). */
  private notBefore(i: number, what: string): void {
    if (this.at.has(i + 1)) this.refuse(i + 1, `right after ${what}, which would change how the value is read`);
  }

  /** Command text until the frame's closing character (consumed) or the end. */
  private commands(f: Frame): void {
    const s = this.s;
    let wordStart = true, word = '', parens = 0, cases = 0;
    const heredocs: { delim: string; strip: boolean }[] = [];
    const endWord = () => {
      if (word === 'case') cases++;
      else if (word === 'esac' && cases > 0) cases--;
      word = '';
      wordStart = true;
    };
    while (this.pos < s.length) {
      const i = this.pos, c = s[i]!;
      if (this.at.has(i)) { this.record(i, 'word', f); wordStart = false; word += '\0'; continue; }
      if (c === '\\') { this.notBefore(i, 'a backslash'); this.pos += 2; wordStart = false; word += '\0'; continue; }
      if (c === "'") { this.single(); wordStart = false; word += '\0'; continue; }
      if (c === '"') { this.double(); wordStart = false; word += '\0'; continue; }
      if (c === '`') { this.backquote(false); wordStart = false; word += '\0'; continue; }
      if (c === '$') { this.dollar('word'); wordStart = false; word += '\0'; continue; }
      if (c === '#' && wordStart) { this.comment(); continue; }
      if ((c === '<' || c === '>') && s[i + 1] === '(') { this.pos += 2; this.commands({ until: ')', arith: f.arith, param: f.param }); wordStart = false; continue; }
      if (c === '<' && s[i + 1] === '<') {
        endWord();
        if (s[i + 2] === '<') this.pos += 3; // a here-string: an ordinary word follows
        else heredocs.push(this.heredocOperator());
        continue;
      }
      if (BREAK.has(c)) endWord(); // `esac)` must count before its ')'
      if (c === '(' && s[i + 1] === '(' && wordStart) { this.pos += 2; this.commands({ until: ')', arith: true, param: f.param }); if (s[this.pos] === ')') this.pos++; continue; }
      if (c === f.until && (c !== ')' || (parens === 0 && cases === 0))) { this.pos++; return; }
      this.pos++;
      if (c === '(') parens++;
      else if (c === ')' && parens > 0) parens--;
      if (c === '\n') { endWord(); for (const h of heredocs.splice(0)) this.heredocBody(h); continue; }
      if (BREAK.has(c)) { endWord(); continue; }
      word += c;
      wordStart = false;
    }
    if (f.until) this.refuse(s.length, `unterminated ${f.param ? '${' : f.arith ? '$((' : '$('} (no closing '${f.until}')`);
    if (heredocs.length) this.heredocBody(heredocs[0]!); // a heredoc on the last line: its body is empty
  }

  private dollar(ctx: Quote): void {
    const s = this.s, i = this.pos, n = s[i + 1];
    if (n === "'" && ctx === 'word') { this.ansi(); return; }
    if (n === '"' && ctx === 'word') { this.pos++; this.double(); return; }
    if (n === '(' && s[i + 2] === '(') {
      this.pos += 3; this.commands({ until: ')', arith: true, param: false });
      if (s[this.pos] === ')') this.pos++;
      return;
    }
    if (n === '(') { this.pos += 2; this.commands({ until: ')', arith: false, param: false }); return; }
    if (n === '[') { this.pos += 2; this.commands({ until: ']', arith: true, param: false }); return; }
    if (n === '{') { this.pos += 2; this.param(ctx === 'dq'); return; }
    this.notBefore(i, "a '$'");
    this.pos++;
  }

  /** ${ … }: no value may stand inside; inside "…" bash keeps quotes literal yet matches them, so refuse any. */
  private param(inDq: boolean): void {
    const s = this.s, open = this.pos - 2;
    let depth = 0;
    while (this.pos < s.length) {
      const i = this.pos, c = s[i]!;
      if (this.at.has(i)) this.record(i, 'word', { until: '}', arith: false, param: true });
      if (c === '\\') { this.pos += 2; continue; }
      if (inDq && (c === "'" || c === '"' || c === '`')) this.refuseLater(i, 'a quote inside ${…} within "…", which bash reads in its own way');
      if (c === "'") { this.single(); continue; }
      if (c === '"') { this.double(); continue; }
      if (c === '`') { this.backquote(inDq); continue; }
      if (c === '$') { this.dollar(inDq ? 'dq' : 'word'); continue; }
      this.pos++;
      if (c === '{') depth++;
      else if (c === '}' && depth-- === 0) return;
    }
    this.refuse(open, "unterminated '${'");
  }

  /** Something whose reading we cannot be sure of: fine unless a ${{ }} follows it. */
  private refuseLater(i: number, reason: string): void {
    for (const start of this.at.keys()) if (start > i) this.refuse(start, `after ${reason}`);
  }

  private single(): void {
    const s = this.s, open = this.pos;
    this.pos++;
    while (this.pos < s.length) {
      if (this.at.has(this.pos)) { this.record(this.pos, 'sq', null); continue; }
      if (s[this.pos++] === "'") return;
    }
    this.refuse(open, "unterminated single quote (')");
  }

  private ansi(): void {
    const s = this.s, open = this.pos;
    this.pos += 2;
    while (this.pos < s.length) {
      const i = this.pos;
      if (this.at.has(i)) { this.record(i, 'ansi', null); continue; }
      if (s[i] === '\\') { this.notBefore(i, 'a backslash'); this.pos += 2; continue; }
      this.pos++;
      if (s[i] === "'") return;
    }
    this.refuse(open, "unterminated $'");
  }

  private double(): void {
    const s = this.s, open = this.pos;
    this.pos++;
    while (this.pos < s.length) {
      const i = this.pos, c = s[i]!;
      if (this.at.has(i)) { this.record(i, 'dq', null); continue; }
      if (c === '\\') { this.notBefore(i, 'a backslash'); this.pos += 2; continue; }
      if (c === '`') { this.backquote(true); continue; }
      if (c === '$') { this.dollar('dq'); continue; }
      this.pos++;
      if (c === '"') return;
    }
    this.refuse(open, 'unterminated double quote (")');
  }

  /** `…`: bash finds the closing backquote, strips one level of \\ \` \$ (\" inside "…"), then parses the body. */
  private backquote(inDq: boolean): void {
    const s = this.s, open = this.pos;
    let i = open + 1;
    let body = '';
    const map: number[] = [];
    const spans: Span[] = [];
    for (;; i++) {
      if (i >= s.length) this.refuse(open, 'unterminated backquote (`)');
      const end = this.at.get(i);
      if (end !== undefined) {
        spans.push({ start: body.length, end: body.length + end - i });
        for (; i < end; i++) { map.push(i); body += s[i]; }
        i--;
        continue;
      }
      const c = s[i]!;
      if (c === '`') break;
      if (c === '\\') {
        this.notBefore(i, 'a backslash');
        const n = s[i + 1];
        if (n !== undefined && ('\\`$'.includes(n) || (inDq && n === '"'))) { i++; map.push(i); body += n; continue; }
      }
      map.push(i);
      body += c;
    }
    map.push(i);
    const orig = this.orig;
    new Lexer(body, spans, [{ inDq }, ...this.bq], (j) => orig(map[j] ?? i), this.out).run();
    this.pos = i + 1;
  }

  private comment(): void {
    const s = this.s;
    while (this.pos < s.length && s[this.pos] !== '\n') {
      if (this.at.has(this.pos)) this.refuse(this.pos, 'inside a comment (# …), where a newline in the value would end the comment');
      this.pos++;
    }
  }

  /** << / <<- and its delimiter word (quotes removed); the body is read at the next newline. */
  private heredocOperator(): { delim: string; strip: boolean } {
    const s = this.s;
    this.pos += 2;
    const strip = s[this.pos] === '-';
    if (strip) this.pos++;
    while (BLANK.has(s[this.pos] ?? '')) this.pos++;
    let delim = '';
    while (this.pos < s.length && !BREAK.has(s[this.pos]!)) {
      const i = this.pos, c = s[i]!;
      if (this.at.has(i)) this.refuse(i, 'in a heredoc delimiter');
      if (c === "'" || c === '"') {
        const close = s.indexOf(c, i + 1);
        if (close < 0) this.refuse(i, `unterminated quote (${c}) in a heredoc delimiter`);
        for (const st of this.at.keys()) if (st > i && st < close) this.refuse(st, 'in a heredoc delimiter');
        delim += s.slice(i + 1, close);
        this.pos = close + 1;
      } else if (c === '\\') { delim += s[i + 1] ?? ''; this.pos += 2; }
      else { delim += c; this.pos++; }
    }
    return { delim, strip };
  }

  private heredocBody(h: { delim: string; strip: boolean }): void {
    const s = this.s;
    for (;;) {
      if (this.pos >= s.length) return;
      let nl = s.indexOf('\n', this.pos);
      if (nl < 0) nl = s.length;
      for (const st of this.at.keys()) {
        if (st >= this.pos && st < nl) this.refuse(st, 'inside a heredoc body, where a line of the value could end the heredoc; pass it as an argument or a variable');
      }
      const line = s.slice(this.pos, nl);
      this.pos = Math.min(nl + 1, s.length);
      if ((h.strip ? line.replace(/^\t+/, '') : line) === h.delim) return;
    }
  }
}
