// A JSON text built in pieces: a big answer (a run of 100,000 jobs, a sweep of 100,000 runs) made a
// row at a time from a cursor, without a tree of every row's object and without one huge string.
// Small pieces are joined into parts of about PART characters; whoever sends it streams the parts.

const PART = 64 * 1024;

export class JsonParts {
  readonly parts: string[] = [];
  private buf = '';

  /** `about`: the few fields a caller needs without parsing (ids for the audit log) */
  constructor(readonly about: Record<string, unknown> = {}) {}

  push(text: string): void {
    this.buf += text;
    if (this.buf.length >= PART) { this.parts.push(this.buf); this.buf = ''; }
  }

  /** Done: the last piece joins the parts. */
  end(): this {
    if (this.buf) { this.parts.push(this.buf); this.buf = ''; }
    return this;
  }

  text(): string { return this.parts.join(''); }
}

/** JSON of an object without its closing brace, to append more fields to (`{"a":1` + `,"b":[…]}`). */
export const openObject = (o: object): string => JSON.stringify(o).slice(0, -1);
