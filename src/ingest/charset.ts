// Byte → text decoding primitives for mail: charset sniffing with the Windows-1252 fallback that
// Brazilian and other legacy mail needs (mailparser alone turns such bytes into U+FFFD), RFC 2047
// encoded words, transfer encodings and a tolerant header-block scanner. parse.ts uses these both
// to steer mailparser and as the fallback path when mailparser cannot parse a message at all, so
// nothing here may throw on any input.
import { isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';

// WHATWG windows-1252 for 0x80–0x9F (bytes it leaves undefined map to the C1 code point itself).
// Node's TextDecoder('windows-1252') is not usable here: on Node 20 it drops those bytes.
const C1 = '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

/** Windows-1252 decode that never produces U+FFFD. */
export function decodeWindows1252(bytes: Uint8Array): string {
  const latin1 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  return fixC1(latin1);
}

/** Maps C1 controls (a Latin-1 reading of 0x80–0x9F) to what Windows-1252 means by them. */
export function fixC1(s: string): string {
  return /[\u0080-\u009f]/.test(s) ? s.replace(/[\u0080-\u009f]/g, (c) => C1[c.charCodeAt(0) - 0x80] ?? c) : s;
}

export function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function isValidUtf8(bytes: Uint8Array): boolean {
  return isUtf8(bytes);
}

/** Canonical-ish charset name for comparisons: lower-case, no '*lang' suffix, no quotes. */
export function normalizeCharsetName(name: unknown): string {
  if (typeof name !== 'string') return '';
  return name.trim().replace(/^["']|["']$/g, '').replace(/\*.*$/, '').toLowerCase();
}

/** Charsets whose bytes must be valid UTF-8 (US-ASCII is a subset); anything else is sniffed. */
export function isUtf8Like(charset: string): boolean {
  const c = charset.replace(/[^a-z0-9]/g, '');
  return c === '' || c === 'utf8' || c === 'ascii' || c === 'usascii' || c === 'ansix341968' || c === 'us';
}

/** UTF-7 and friends are refused: decoding them turns `+ADw-script+AD4-` into markup. */
function isRefused(charset: string): boolean {
  return /^(?:(?:cs)?unicode11)?utf7(?:imap)?$|^base64$|^hex$/.test(charset.replace(/[^a-z0-9]/g, ''));
}

export function isKnownCharset(charset: string): boolean {
  if (isRefused(charset)) return false;
  if (charset === 'iso-2022-jp') return true;
  try {
    return iconv.encodingExists(charset);
  } catch {
    return false;
  }
}

export interface Decoded { text: string; problems: string[] }

/** UTF-8 when the bytes are valid UTF-8, Windows-1252 otherwise. */
export function sniffDecode(bytes: Uint8Array): Decoded {
  if (isUtf8(bytes)) return { text: toBuffer(bytes).toString('utf8'), problems: [] };
  return { text: decodeWindows1252(bytes), problems: ['charset-fallback:windows-1252'] };
}

/**
 * Decodes bytes in the declared charset: UTF-8/ASCII/none are sniffed (invalid UTF-8 → Windows-1252),
 * an unknown or refused charset is sniffed too and noted, a known one goes through iconv-lite.
 */
export function decodeBytes(bytes: Uint8Array, declared?: string): Decoded {
  const cs = normalizeCharsetName(declared);
  if (isUtf8Like(cs)) return sniffDecode(bytes);
  if (!isKnownCharset(cs)) {
    const d = sniffDecode(bytes);
    return { text: d.text, problems: [`unknown-charset:${cs}`, ...d.problems] };
  }
  try {
    if (cs === 'iso-2022-jp') return { text: iconv.decode(iso2022jpToEucJp(bytes), 'euc-jp'), problems: [] };
    return { text: iconv.decode(toBuffer(bytes), cs), problems: [] };
  } catch {
    const d = sniffDecode(bytes);
    return { text: d.text, problems: [`unknown-charset:${cs}`, ...d.problems] };
  }
}

/** ISO-2022-JP (Japanese mail's usual charset, which iconv-lite lacks) rewritten as EUC-JP. */
function iso2022jpToEucJp(b: Uint8Array): Buffer {
  const out: number[] = [];
  let mode = 0; // 0 ASCII / JIS Roman, 1 JIS X 0208, 2 half-width katakana
  for (let i = 0; i < b.length; i++) {
    const c = b[i] ?? 0;
    if (c === 0x1b) {
      const esc = String.fromCharCode(b[i + 1] ?? 0, b[i + 2] ?? 0);
      const next = esc === '$B' || esc === '$@' ? 1 : esc === '(B' || esc === '(J' ? 0 : esc === '(I' ? 2 : -1;
      if (next >= 0) { mode = next; i += 2; continue; }
    }
    if (mode === 1 && c > 0x20 && c < 0x7f) out.push(c | 0x80);
    else if (mode === 2 && c > 0x20 && c < 0x60) out.push(0x8e, c | 0x80);
    else out.push(c);
  }
  return Buffer.from(out);
}

/** Header text that came in as a latin1 "binary" string: UTF-8 if it is valid, else Windows-1252. */
export function decodeBinaryString(s: string): Decoded {
  if (!/[\u0080-\u00ff]/.test(s)) return { text: s, problems: [] };
  const d = sniffDecode(Buffer.from(s, 'latin1'));
  return { text: d.text, problems: d.problems.length ? ['header-charset-fallback:windows-1252'] : [] };
}

const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;

function wordBytes(enc: string, text: string): Buffer {
  if (enc === 'b' || enc === 'B') return Buffer.from(text.replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
  return decodeQuotedPrintable(text.replace(/_/g, ' '), true);
}

/**
 * RFC 2047 decoding of a (Unicode) header value. Whitespace between adjacent encoded words is
 * dropped, and adjacent words in the same charset are joined as bytes before decoding so that a
 * multi-byte character split across two words survives.
 */
export function decodeWords(value: string, problems?: string[]): string {
  if (!value.includes('=?')) return value;
  let out = '';
  let last = 0;
  let pending: { charset: string; chunks: Buffer[] } | null = null;
  const flush = (): void => {
    if (!pending) return;
    const d = decodeBytes(Buffer.concat(pending.chunks), pending.charset);
    if (problems) for (const p of d.problems) problems.push(p);
    out += d.text;
    pending = null;
  };
  for (const m of value.matchAll(ENCODED_WORD)) {
    const between = value.slice(last, m.index);
    const charset = normalizeCharsetName(m[1]);
    if (!(pending && /^\s*$/.test(between))) {
      flush();
      out += between;
    } else if (pending.charset !== charset) {
      flush();
    }
    pending ??= { charset, chunks: [] };
    pending.chunks.push(wordBytes(m[2] ?? 'Q', m[3] ?? ''));
    last = m.index + m[0].length;
  }
  flush();
  return out + value.slice(last);
}

export function decodeQuotedPrintable(text: string, inWord = false): Buffer {
  const s = inWord ? text : trimLines(text, false).replace(/=\r?\n/g, '');
  const out = Buffer.allocUnsafe(s.length);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x3d && i + 2 < s.length && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      out[n++] = parseInt(s.slice(i + 1, i + 3), 16);
      i += 2;
    } else {
      out[n++] = c & 0xff;
    }
  }
  return out.subarray(0, n);
}

/**
 * Strips spaces/tabs at the end (and with `both`, the start) of every line. A loop, not
 * /[ \t]+\n/: that regex backtracks quadratically over a long run of spaces with no newline.
 */
export function trimLines(s: string, both = true): string {
  const lines = s.split('\n');
  for (let k = 0; k < lines.length; k++) {
    const l = lines[k] ?? '';
    let e = l.length;
    const cr = e > 0 && l.charCodeAt(e - 1) === 0x0d;
    if (cr) e--;
    while (e > 0 && (l.charCodeAt(e - 1) === 0x20 || l.charCodeAt(e - 1) === 0x09)) e--;
    let b = 0;
    while (both && b < e && (l.charCodeAt(b) === 0x20 || l.charCodeAt(b) === 0x09)) b++;
    if (b > 0 || e < l.length - (cr ? 1 : 0)) lines[k] = l.slice(b, e) + (cr ? '\r' : '');
  }
  return lines.join('\n');
}

/** Undo a Content-Transfer-Encoding; unknown encodings pass through as-is. */
export function decodeTransfer(body: Uint8Array, cte: string): Uint8Array {
  const enc = cte.trim().toLowerCase();
  const s = (): string => toBuffer(body).toString('latin1');
  if (enc === 'base64') return Buffer.from(s().replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
  if (enc === 'quoted-printable') return decodeQuotedPrintable(s());
  return body;
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

// ---------------------------------------------------------------- html → text
// A linear, single-pass converter (no regex backtracking on hostile markup). mailparser's
// html-to-text costs ~0.8 µs per character (40 ms for a 50 KB newsletter), which alone would sink
// ingest throughput, so html-only mail is converted here instead.
const BLOCK = new Set(['p', 'div', 'table', 'tr', 'ul', 'ol', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'blockquote', 'pre', 'hr', 'section', 'article', 'header', 'footer', 'center', 'dl', 'dt', 'dd']);
const SKIP = new Set(['script', 'style', 'head', 'title', 'template']);
const MARKS: Record<string, string> = { acute: '\u0301', grave: '\u0300', circ: '\u0302', tilde: '\u0303', uml: '\u0308', ring: '\u030a', cedil: '\u0327' };
const NAMED: Record<string, string> = {
  nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", copy: '©', reg: '®', trade: '™', ndash: '–', mdash: '—',
  hellip: '…', lsquo: '‘', rsquo: '’', ldquo: '“', rdquo: '”', laquo: '«', raquo: '»', bull: '•', middot: '·', euro: '€',
  pound: '£', cent: '¢', yen: '¥', sect: '§', deg: '°', ordm: 'º', ordf: 'ª', times: '×', divide: '÷', szlig: 'ß',
  aelig: 'æ', AElig: 'Æ', oslash: 'ø', Oslash: 'Ø', iexcl: '¡', iquest: '¿', shy: '', zwnj: '', zwj: '', ensp: ' ', emsp: ' ', thinsp: ' ',
};

function entity(name: string): string | undefined {
  if (name[0] === '#') {
    const n = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
    return Number.isFinite(n) && n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : undefined;
  }
  const named = NAMED[name];
  if (named !== undefined) return named;
  const m = /^([A-Za-z])(acute|grave|circ|tilde|uml|ring|cedil)$/.exec(name);
  return m ? (m[1]! + MARKS[m[2]!]!).normalize('NFC') : undefined;
}

export function decodeEntities(s: string): string {
  return s.includes('&') ? s.replace(/&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z]{2,8});?/g, (m, n: string) => entity(n) ?? m) : s;
}

export function htmlToText(html: string): string {
  const out: string[] = []; // pieces, joined once: appending to one string and reading it back is quadratic
  let i = 0;
  let skip = '';
  let pre = 0;
  const links: { href: string; at: number }[] = [];
  const text = (t: string): void => { if (t && !skip) out.push(pre ? t : t.replace(/\s+/g, ' ')); };
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    if (lt < 0) { text(html.slice(i)); break; }
    text(html.slice(i, lt));
    if (html.startsWith('<!--', lt)) { const e = html.indexOf('-->', lt + 4); i = e < 0 ? html.length : e + 3; continue; }
    const c = html.charCodeAt(lt + 1) | 0;
    if (!(((c | 32) >= 97 && (c | 32) <= 122) || c === 47 || c === 33 || c === 63)) { if (!skip) out.push('<'); i = lt + 1; continue; } // "a < b" is text
    const gt = html.indexOf('>', lt);
    if (gt < 0) { text(html.slice(lt)); break; }
    i = gt + 1;
    const tag = html.slice(lt + 1, gt);
    const m = /^(\/?)([a-zA-Z][a-zA-Z0-9]*)/.exec(tag);
    if (!m) continue; // <!doctype>, <?xml?>
    const closing = m[1] === '/';
    const name = (m[2] ?? '').toLowerCase();
    if (skip) { if (closing && name === skip) skip = ''; continue; }
    if (SKIP.has(name)) { if (!closing && !tag.endsWith('/')) skip = name; continue; }
    if (name === 'br') out.push('\n');
    else if (name === 'li') { if (!closing) out.push('\n* '); }
    else if (name === 'td' || name === 'th') { if (closing) out.push(' '); }
    else if (name === 'a' && !closing) links.push({ href: /\bhref\s*=\s*["']?(https?:[^"'\s>]+)/i.exec(tag)?.[1] ?? '', at: out.length });
    else if (name === 'a') {
      const l = links.pop();
      const href = l?.href ? decodeEntities(l.href) : '';
      if (l && href && decodeEntities(out.slice(l.at).join('')).trim() !== href) out.push(` [${href}]`);
    } else if (BLOCK.has(name)) {
      out.push('\n\n');
      if (name === 'pre') pre = Math.max(0, pre + (closing ? -1 : 1));
    }
  }
  return trimLines(decodeEntities(out.join(''))).replace(/\n{3,}/g, '\n\n').trim();
}
