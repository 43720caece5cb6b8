// Serialized answers of hot list reads (GET /runs), kept while the database is unchanged: each is
// keyed by its request's query and valid only under the write mark it was made under (every row this
// process changes, committed or not, and every commit of another process moves the mark), so a read
// after any write gets a fresh answer. Nothing is kept inside a transaction (no mark then).

const CAP = 64;

export class AnswerCache {
  private mark: string | null = null;
  private readonly answers = new Map<string, string>();

  constructor(private readonly writeMark: () => string | null) {}

  get(key: string, make: () => string): string {
    const mark = this.writeMark();
    if (mark === null) return make();
    if (mark !== this.mark) { this.answers.clear(); this.mark = mark; }
    let answer = this.answers.get(key);
    if (answer === undefined) {
      answer = make();
      if (this.answers.size >= CAP) this.answers.clear();
      this.answers.set(key, answer);
    }
    return answer;
  }
}
