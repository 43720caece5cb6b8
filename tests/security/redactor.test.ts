// The redactor on its own: every form of a secret, in one piece or cut into writes at every possible
// place, gives the same redacted text; what a stream holds back is bounded; the copier turns raw/
// into logs/ exactly, resumes after a crash without a gap or a duplicate, and caps the log.
import { test, expect, describe } from 'bun:test';
import { mkdtempSync, mkdirSync, writeFileSync, appendFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redactor } from '../../src/core/redact/redactor.ts';
import { Copier } from '../../src/core/redact/copier.ts';
import { leakForms, expectNoLeak } from './helpers.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
const SECRETS = [
  { name: 'TOK', value: 'Pa55/w0rd+"quoted"&amp=1 ünï-x9Q' },
  { name: 'UUID', value: '8f14e45f-ceea-467a-9575-7f3a2c0b1d2e' },
  { name: 'PEM', value: '-----BEGIN K-----\nAAAAB3NzaC1yc2EAAAADAQAB\nAQCxyz0123456789abcdef\n-----END K-----' },
  { name: 'SIX', value: 'a1b2c3' },
];
const r = new Redactor(SECRETS);

function sample(): string {
  const parts: string[] = ['start\n'];
  for (const { value } of SECRETS) {
    // the forms a program prints (the offset-1/2 needles and "its middle" are search needles, printed below as real text)
    for (const [form, text] of leakForms(value)) if (!/offset|middle/.test(form)) parts.push(`${form}=<${text}>\n`);
    parts.push(`base64 of x+value: ${Buffer.from('x' + value).toString('base64')}\n`);
    parts.push(`base64 of xy+value: ${Buffer.from('xy' + value).toString('base64')}\n`);
  }
  parts.push('the end, no newline');
  return parts.join('');
}

function viaStream(text: string, cuts: number[]): string {
  const bytes = enc.encode(text);
  const st = r.stream();
  const out: Uint8Array[] = [];
  let at = 0;
  for (const c of [...cuts, bytes.length]) { out.push(st.push(bytes.subarray(at, c)).slice()); at = c; }
  out.push(st.end());
  return dec.decode(Buffer.concat(out));
}

describe('Redactor', () => {
  test('every form of every secret is replaced by its marker', () => {
    const red = r.redactString(sample());
    for (const s of SECRETS) expectNoLeak(red, s.value, 'redacted sample');
    for (const s of SECRETS) expect(red).toContain(`[REDACTED:${s.name}]`);
    expect(red.startsWith('start\n')).toBe(true);
    expect(red.endsWith('the end, no newline')).toBe(true);
  });

  test('a stream cut at every single place (two writes) redacts exactly like one write', () => {
    const text = `a ${SECRETS[0]!.value} b ${Buffer.from(SECRETS[1]!.value).toString('base64')} c ${encodeURIComponent(SECRETS[0]!.value)} d`;
    const want = r.redactString(text);
    const n = enc.encode(text).length;
    for (let cut = 0; cut <= n; cut++) expect(viaStream(text, [cut])).toBe(want);
  });

  test('random cuts into many writes (one byte at a time included) redact like one write', () => {
    const text = sample();
    const want = r.redactString(text);
    const n = enc.encode(text).length;
    expect(viaStream(text, Array.from({ length: n }, (_, i) => i))).toBe(want);
    for (let k = 0; k < 200; k++) {
      const cuts = Array.from({ length: 1 + Math.floor(Math.random() * 40) }, () => Math.floor(Math.random() * n)).sort((a, b) => a - b);
      expect(viaStream(text, cuts)).toBe(want);
    }
  });

  test('holds back no more than it must, and text without secrets passes unchanged', () => {
    const st = r.stream();
    const plain = enc.encode('x'.repeat(100_000));
    const out = st.push(plain);
    expect(out.length).toBeGreaterThanOrEqual(plain.length - 2 * r.maxLen);
    expect(dec.decode(Buffer.concat([out, st.end()]))).toBe('x'.repeat(100_000));
    expect(new Redactor([]).redactString('anything a1b2c3')).toBe('anything a1b2c3');
  });

  test('overlapping forms merge: no piece of a matched form survives', () => {
    const two = new Redactor([{ name: 'A', value: 'abcdefgh' }, { name: 'B', value: 'efghijkl' }]);
    expect(two.redactString('xxabcdefghijklxx')).toBe('xx[REDACTED:A][REDACTED:B]xx');
  });
});

describe('Copier (raw/ → logs/)', () => {
  const red = new Redactor([{ name: 'TOK', value: 'copier-secret-value' }]);
  const job = () => {
    const dir = mkdtempSync(join(tmpdir(), 'drover-copier-'));
    for (const d of ['raw', 'logs']) mkdirSync(join(dir, d));
    return dir;
  };

  test('copies command after command, redacting a value split across writes; drain removes raw/ and .secrets', async () => {
    const dir = job();
    writeFileSync(join(dir, '.secrets'), 'export TOK=x\n');
    const c = new Copier({ dir, commandCount: 2, redactor: red, maxLogSize: null });
    writeFileSync(join(dir, 'raw/0.log'), 'one copier-sec');
    c.pass(false);
    expect(readFileSync(join(dir, 'logs/0.log'), 'utf8')).toBe(''); // "one copier-sec" may be the start of the secret
    appendFileSync(join(dir, 'raw/0.log'), 'ret-value two\n');
    writeFileSync(join(dir, 'raw/1.log'), 'second copier-secret-value');
    c.pass(false);
    expect(readFileSync(join(dir, 'logs/0.log'), 'utf8')).toBe('one [REDACTED:TOK] two\n');
    await c.drain();
    expect(readFileSync(join(dir, 'logs/1.log'), 'utf8')).toBe('second [REDACTED:TOK]');
    expect(existsSync(join(dir, 'raw'))).toBe(false);
    expect(existsSync(join(dir, '.secrets'))).toBe(false);
  });

  test('a new copier (a restarted server) resumes from the recorded progress: no gap, no duplicate', async () => {
    const dir = job();
    const lines = Array.from({ length: 2000 }, (_, i) => `line ${i} copier-secret-value\n`);
    writeFileSync(join(dir, 'raw/0.log'), lines.slice(0, 1000).join(''));
    const a = new Copier({ dir, commandCount: 1, redactor: red, maxLogSize: null, chunk: 4096, passBudget: 8192 });
    a.pass(false);
    a.stop();
    // a crash after appending but before recording progress: extra bytes that the next copier cuts
    appendFileSync(join(dir, 'logs/0.log'), 'half-written garbage');
    appendFileSync(join(dir, 'raw/0.log'), lines.slice(1000).join(''));
    const b = new Copier({ dir, commandCount: 1, redactor: red, maxLogSize: null });
    await b.drain();
    expect(readFileSync(join(dir, 'logs/0.log'), 'utf8')).toBe(lines.map((l) => l.replace('copier-secret-value', '[REDACTED:TOK]')).join(''));
  });

  test('the log cap keeps the first bytes and one marker line, across commands', async () => {
    const dir = job();
    writeFileSync(join(dir, 'raw/0.log'), 'a'.repeat(600));
    writeFileSync(join(dir, 'raw/1.log'), 'b'.repeat(600));
    const c = new Copier({ dir, commandCount: 2, redactor: red, maxLogSize: 1000 });
    await c.drain();
    const l0 = readFileSync(join(dir, 'logs/0.log'), 'utf8'), l1 = readFileSync(join(dir, 'logs/1.log'), 'utf8');
    expect(l0).toBe('a'.repeat(600));
    expect(l1.startsWith('b'.repeat(400) + '\n[drover: the log reached --max-log-size (1000 bytes)')).toBe(true);
    expect(l1.match(/\[drover:/g)!.length).toBe(1);
  });
});
