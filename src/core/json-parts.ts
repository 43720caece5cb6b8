// A JSON text built in pieces: a big answer (a run of 100,000 jobs, a sweep of 100,000 runs) made a
// row at a time from a cursor, without a tree of every row's object and without one huge string.
// Small pieces are joined into parts of about PART characters; whoever sends it streams the parts.

const PART = 64 * 1024;

export class JsonParts {
  readonly parts: string[] = [];
  // pieces are joined (one flat string) rather than appended with += (a rope that keeps every small
  // piece alive until something flattens it: 100,000 jobs' pieces took three times their text)
  private pieces: string[] = [];
  private size = 0;

  /** `about`: the few fields a caller needs without parsing (ids for the audit log) */
  constructor(readonly about: Record<string, unknown> = {}) {}

  push(text: string): void {
    this.pieces.push(text);
    if ((this.size += text.length) >= PART) this.cut();
  }

  /** Done: the last pieces join the parts. */
  end(): this {
    if (this.pieces.length) this.cut();
    return this;
  }

  private cut(): void {
    this.parts.push(this.pieces.join(''));
    this.pieces = [];
    this.size = 0;
  }

  text(): string { return this.parts.join(''); }
}

/** JSON of an object without its closing brace, to append more fields to (`{"a":1` + `,"b":[…]}`). */
export const openObject = (o: object): string => JSON.stringify(o).slice(0, -1);
