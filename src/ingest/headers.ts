// Header blocks of raw mail: where the header ends, a tolerant bounded scan of its fields, RFC 2047
// encoded words, structured values (Content-Type params, RFC 2231) and the message-id / date fields.
// Split out of charset.ts so that file holds only byte decoding; parse.ts takes every header-derived
// field from here, and the fallback MIME walker (mime-walk.ts) scans each part's header with it, so
// nothing here may throw on any input.
import { decodeBinaryString, decodeBytes, decodeQuotedPrintable, normalizeCharsetName, toBuffer } from './charset.js';

const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;

/** The bytes of an encoded word, or null when its text is not valid B / Q encoding. */
function wordBytes(enc: string, text: string): Buffer | null {
  if (enc === 'b' || enc === 'B') return /^[A-Za-z0-9+/]*={0,2}$/.test(text) && text.length % 4 !== 1 ? Buffer.from(text, 'base64') : null;
  return /=(?![0-9A-Fa-f]{2})/.test(text) ? null : decodeQuotedPrintable(text.replace(/_/g, ' '), true);
}

/** Decoding problems of header text get header names: the body may be fine ASCII. */
const headerProblem = (p: string): string => (/^(?:charset-fallback|invalid-utf8):/.test(p) ? `header-${p}` : p);

/**
 * RFC 2047 decoding of a (Unicode) header value. Whitespace between adjacent encoded words is
 * dropped, and adjacent words in the same charset are joined as bytes before decoding so that a
 * multi-byte character split across two words survives. A word whose text is not valid B / Q is
 * left as it stands (RFC 2047 §6.3), noted 'invalid-encoded-word', instead of decoded into junk.
 */
export function decodeWords(value: string, problems?: string[]): string {
  if (!value.includes('=?')) return value;
  let out = '';
  let last = 0;
  let pending: { charset: string; chunks: Buffer[] } | null = null;
  const flush = (): void => {
    if (!pending) return;
    const d = decodeBytes(Buffer.concat(pending.chunks), pending.charset);
    if (problems) for (const p of d.problems) problems.push(headerProblem(p));
    out += d.text;
    pending = null;
  };
  for (const m of value.matchAll(ENCODED_WORD)) {
    const bytes = wordBytes(m[2] ?? 'Q', m[3] ?? '');
    if (!bytes) {
      problems?.push('invalid-encoded-word');
      continue; // stays in `between` of the next word, or in the tail, as it is
    }
    const between = value.slice(last, m.index);
    const charset = normalizeCharsetName(m[1]);
    if (!(pending && /^\s*$/.test(between))) {
      flush();
      out += between;
    } else if (pending.charset !== charset) {
      flush();
    }
    pending ??= { charset, chunks: [] };
    pending.chunks.push(bytes);
    last = m.index + m[0].length;
  }
  flush();
  return out + value.slice(last);
}

/**
 * Where the header block ends and the body starts: at the first empty line, or (broken mail) at
 * the first line that is neither a header field nor a continuation, which then belongs to the body
 * instead of being thrown away. A first line that is no header at all means there are no headers.
 */
export function splitHead(raw: Uint8Array): { headEnd: number; bodyStart: number } {
  const b = toBuffer(raw);
  let pos = 0;
  while (pos < b.length) {
    let nl = b.indexOf(0x0a, pos);
    if (nl < 0) nl = b.length;
    const c = b[pos];
    if (c === 0x0a || (c === 0x0d && (pos + 1 === nl || pos + 1 === b.length))) return { headEnd: pos, bodyStart: Math.min(nl + 1, b.length) };
    const folded = c === 0x20 || c === 0x09;
    const start = b.subarray(pos, Math.min(nl, pos + 80)).toString('latin1');
    if (!(folded && pos > 0) && !HEADER_START.test(start) && !(nl - pos > 80 && LONG_NAME.test(start))) {
      if (!(pos === 0 && b.subarray(0, 5).toString('latin1') === 'From ')) return { headEnd: pos, bodyStart: pos };
    }
    pos = nl + 1;
  }
  return { headEnd: b.length, bodyStart: b.length };
}
const HEADER_START = /^[\x21-\x39\x3b-\x7e]+[ \t]*:/;
const LONG_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

export interface HeaderField { name: string; /** unfolded, bytes decoded (UTF-8/1252), not RFC 2047 decoded */ value: string }

export const HEADER_LIMITS = { maxValueChars: 64 * 1024, maxPerName: 200, maxTotalChars: 2 * 1024 * 1024 };

/**
 * Tolerant scan of a header block: unfolds, keeps order, decodes 8-bit bytes (UTF-8, else
 * Windows-1252). Bounded by HEADER_LIMITS; anything cut is reported as 'truncated-headers'.
 */
export function scanHeaders(head: Uint8Array, problems: string[]): HeaderField[] {
  const text = toBuffer(head).toString('latin1');
  const fields: HeaderField[] = [];
  const perName = new Map<string, number>();
  let total = 0;
  let truncated = false;
  let cur: { name: string; parts: string[]; len: number } | null = null;
  const finish = (): void => {
    if (!cur) return;
    let v = cur.parts.join('');
    if (v.length > HEADER_LIMITS.maxValueChars) { v = v.slice(0, HEADER_LIMITS.maxValueChars); truncated = true; }
    const d = decodeBinaryString(v.trim());
    for (const p of d.problems) problems.push(p);
    fields.push({ name: cur.name, value: d.text });
    total += d.text.length;
    cur = null;
  };
  let pos = 0;
  while (pos < text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    const line = text.charCodeAt(nl - 1) === 0x0d ? text.slice(pos, nl - 1) : text.slice(pos, nl);
    pos = nl + 1;
    if (line === '') continue;
    const c0 = line.charCodeAt(0);
    if (c0 === 0x20 || c0 === 0x09) {
      if (cur && cur.len <= HEADER_LIMITS.maxValueChars) { cur.parts.push(line); cur.len += line.length; }
      else if (cur) truncated = true;
      continue;
    }
    finish();
    const colon = line.indexOf(':');
    if (colon <= 0 || /\s/.test(line.slice(0, colon).trimEnd())) continue; // mbox "From " line or garbage
    const name = line.slice(0, colon).trim().toLowerCase();
    const count = perName.get(name) ?? 0;
    if (count >= HEADER_LIMITS.maxPerName || total > HEADER_LIMITS.maxTotalChars) { truncated = true; continue; }
    perName.set(name, count + 1);
    const value = line.slice(colon + 1);
    cur = { name, parts: [value], len: value.length };
  }
  finish();
  if (truncated) problems.push('truncated-headers');
  return fields;
}

/** Splits a structured value like `text/plain; charset="x"; name*=utf-8''a%20b` into value + params. */
export function parseStructured(value: string): { value: string; params: Record<string, string> } {
  const params: Record<string, string> = {};
  const semi = value.indexOf(';');
  const main = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  if (semi >= 0) {
    const re = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"?|([^;]*))/g;
    for (const m of value.slice(semi).matchAll(re)) {
      let key = (m[1] ?? '').toLowerCase();
      let v = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '').trim();
      if (key.endsWith('*')) {
        key = key.slice(0, -1);
        const ext = /^([^']*)'[^']*'(.*)$/.exec(v);
        if (ext) {
          const bytes = (ext[2] ?? '').replace(/%([0-9a-f]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
          v = decodeBytes(Buffer.from(bytes, 'latin1'), ext[1]).text;
        }
      }
      if (key && !(key in params)) params[key] = decodeWords(v);
    }
  }
  return { value: main, params };
}

// ---------------------------------------------------------------- header values

export const stripNul = (s: string): string => (s.includes('\0') ? s.replace(/\0/g, '') : s);

// C0 controls but \t \n \r, and DEL: garbage base64 or a hostile header decodes to \x07, \x1b ...,
// which no ticket text means and which terminals and some JSON consumers mishandle.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g;
// eslint-disable-next-line no-control-regex
const CONTROL_BUT_NUL = /[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]/;

/** Text without NUL and the other control characters above. */
export const stripControls = (s: string): string => (CONTROL.test(s) ? s.replace(CONTROLS, '') : s);

/** True when stripControls would change `s`. */
export const hasAnyControl = (s: string): boolean => CONTROL.test(s);

/** True when `s` holds control characters other than NUL (which has its own 'nul-bytes' note). */
export const hasControls = (s: string): boolean => CONTROL_BUT_NUL.test(s);

/** Message ids from Message-ID / In-Reply-To / References, without <>, de-duplicated, in order. */
export function parseIds(value: string): string[] {
  const v = stripNul(value);
  let out = [...v.matchAll(/<([^<>]*)>/g)].map((m) => (m[1] ?? '').replace(/\s+/g, ''));
  if (!out.length) out = v.split(/[\s,]+/).filter((t) => t.includes('@'));
  return [...new Set(out.filter((t) => t.length > 0))];
}

/** RFC 5322 Date (comments dropped) → ISO string, or null when it does not parse to a sane time. */
export function parseDate(value: string | undefined): string | null {
  if (!value) return null;
  const d = new Date(value.slice(0, 200).replace(/\([^)]*\)/g, ' ').replace(/\s+/g, ' ').trim());
  const t = d.getTime();
  return Number.isNaN(t) || t < 0 || t > 4102444800000 ? null : d.toISOString();
}
