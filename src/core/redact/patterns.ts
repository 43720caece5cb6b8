// The byte patterns one secret value may show up as in a job's output or in anything drover stores:
// the value itself, its base64 (standard and URL-safe, padded and not, and the "shifted" cores that
// appear when the value sits at byte offset 1 or 2 of a longer base64-encoded text), its URL-encoded
// forms (upper- and lower-case hex, `+` for spaces), its JSON-escaped form, and each line of a
// multi-line value. All of them map to one marker, `[REDACTED:NAME]`.
// Not here: finding them (redactor.ts), where secrets come from (core/secrets).

/** Shorter values are refused as secrets (masking them would mangle half the log). */
export const MIN_SECRET_LENGTH = 6;
/** Longer values are refused: every form is a pattern, and the longest one decides how much a stream holds back. */
export const MAX_SECRET_BYTES = 16 * 1024;

export interface SecretValue { name: string; value: string }
export interface Pattern { bytes: Uint8Array; name: string }

const enc = new TextEncoder();

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const toUrlSafe = (s: string) => s.replace(/\+/g, '-').replace(/\//g, '_');

/**
 * The base64 characters fully determined by `value` when it is preceded by `shift` (0..2) other bytes
 * in the encoded stream and followed by anything: the characters that depend on neighbours are cut.
 */
export function base64Core(value: Uint8Array, shift: number): string {
  const padded = new Uint8Array(shift + value.length);
  padded.set(value, shift);
  const s = b64(padded).replace(/=+$/, '');
  const from = Math.ceil((shift * 4) / 3);
  const to = Math.floor(((shift + value.length) * 8) / 6);
  return s.slice(from, to);
}

function urlForms(value: string): string[] {
  const upper = encodeURIComponent(value);
  const lower = upper.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
  const form = upper.replace(/%20/g, '+');
  // encodeURI keeps more characters literal (: / ? & = …), as many URL builders do
  const loose = encodeURI(value);
  return [upper, lower, form, loose, loose.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())];
}

/** Every textual form of one secret, deduplicated, each at least MIN_SECRET_LENGTH bytes. */
export function formsOf(value: string): string[] {
  const bytes = enc.encode(value);
  const forms = new Set<string>([value]);
  const full = b64(bytes);
  forms.add(full);
  forms.add(full.replace(/=+$/, ''));
  forms.add(toUrlSafe(full));
  forms.add(toUrlSafe(full).replace(/=+$/, ''));
  for (let shift = 0; shift < 3; shift++) {
    const core = base64Core(bytes, shift);
    forms.add(core);
    forms.add(toUrlSafe(core));
  }
  for (const u of urlForms(value)) forms.add(u);
  forms.add(JSON.stringify(value).slice(1, -1));
  // a value printed with \r\n line ends, and each line of a multi-line value (PEM keys, JSON files)
  if (value.includes('\n')) {
    forms.add(value.replace(/\r?\n/g, '\r\n'));
    for (const line of value.split(/\r?\n/)) forms.add(line.trim());
  }
  return [...forms].filter((f) => enc.encode(f).length >= MIN_SECRET_LENGTH);
}

/** The patterns of a set of secrets; the marker of each is `[REDACTED:NAME]`. */
export function patternsOf(secrets: readonly SecretValue[]): Pattern[] {
  const seen = new Map<string, Pattern>();
  for (const s of secrets) {
    if (!s.value) continue;
    for (const f of formsOf(s.value)) if (!seen.has(f)) seen.set(f, { bytes: enc.encode(f), name: s.name });
  }
  return [...seen.values()];
}

export const marker = (name: string) => `[REDACTED:${name}]`;
