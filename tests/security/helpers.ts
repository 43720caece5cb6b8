// Helpers of the security tests: independent encodings of a secret (computed here, not by the code
// under test) and one check that a text holds none of them.
import { expect } from 'bun:test';
import { readFileSync } from 'node:fs';

/** base64 of `prefix + value`, without the characters that depend on the prefix or on what follows. */
function embeddedBase64(value: string, prefix: string): string {
  const s = Buffer.from(prefix + value).toString('base64').replace(/=+$/, '');
  const from = Math.ceil((Buffer.byteLength(prefix) * 8) / 6);
  return s.slice(from, s.length - 2);
}

/** The forms a leaked secret would take: plain, base64 (standard, URL-safe, inside a longer text), URL-encoded, JSON-escaped. */
export function leakForms(value: string): [string, string][] {
  const b64 = Buffer.from(value).toString('base64');
  const forms: [string, string][] = [
    ['plain', value],
    ['base64', b64.replace(/=+$/, '')],
    ['base64url', Buffer.from(value).toString('base64url')],
    ['base64 at offset 1', embeddedBase64(value, 'x')],
    ['base64 at offset 2', embeddedBase64(value, 'xy')],
    ['url-encoded', encodeURIComponent(value)],
    ['url-encoded (lower-case hex)', encodeURIComponent(value).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())],
    ['json-escaped', JSON.stringify(value).slice(1, -1)],
  ];
  // a long-enough piece of the value itself (a partial leak)
  if (value.length >= 16) forms.push(['its middle', value.slice(4, value.length - 4)]);
  for (const line of value.split('\n')) if (line.length >= 8 && line !== value) forms.push([`line ${JSON.stringify(line.slice(0, 12))}…`, line]);
  return forms;
}

/** Fails naming where and in which form a secret shows up. */
export function expectNoLeak(text: string | Uint8Array, value: string, where: string): void {
  const hay = typeof text === 'string' ? text : Buffer.from(text).toString('latin1');
  const asLatin1 = (s: string) => (typeof text === 'string' ? s : Buffer.from(s).toString('latin1'));
  for (const [form, needle] of leakForms(value)) {
    expect(`${where}: ${form} ${hay.includes(asLatin1(needle)) ? 'LEAKED' : 'absent'}`).toBe(`${where}: ${form} absent`);
  }
}

export const fileText = (path: string) => { try { return readFileSync(path); } catch { return Buffer.alloc(0); } };

/** Bash that URL-encodes its argument byte by byte (no python/jq needed on the test machine). */
export const URLENC = `urlenc() { local LC_ALL=C s="$1" i c; for ((i=0;i<\${#s};i++)); do c=\${s:i:1}; case "$c" in [a-zA-Z0-9.~_-]) printf '%s' "$c";; *) printf '%%%02X' "'$c";; esac; done; echo; }`;
