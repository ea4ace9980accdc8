// Byte → text decoding primitives for mail: charset sniffing with the Windows-1252 fallback that
// Brazilian and other legacy mail needs (mailparser alone turns such bytes into U+FFFD), declared
// charsets through iconv-lite (plus ISO-2022-JP, which it lacks) and transfer encodings. Header
// scanning (headers.ts), the fallback MIME walker (mime-walk.ts) and parse.ts all decode through
// these, including on the fallback path when mailparser cannot parse a message at all, so nothing
// here may throw on any input.
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

/**
 * UTF-8 when the bytes are valid UTF-8. Otherwise either bytes that are mostly legacy text (few or no
 * valid multi-byte UTF-8 sequences): all Windows-1252, as Brazilian mail without a charset needs; or
 * UTF-8 with a few bad bytes (a truncated sequence, one stray Latin-1 byte): only those bytes read as
 * Windows-1252, so one bad byte does not garble every accent of the message. The 1:4 ratio is a
 * why-not-zero: a Windows-1252 text now and then holds a pair that happens to be valid UTF-8
 * ("Ã©"), which must not tip a whole Portuguese message into the mixed reading.
 */
export function sniffDecode(bytes: Uint8Array): Decoded {
  if (isUtf8(bytes)) return { text: toBuffer(bytes).toString('utf8'), problems: [] };
  const scan = scanUtf8(bytes);
  if (scan.multiByte * 4 < scan.invalid) return { text: decodeWindows1252(bytes), problems: ['charset-fallback:windows-1252'] };
  return { text: decodeMixed(bytes), problems: ['invalid-utf8:windows-1252'] };
}

/** Length of the valid UTF-8 sequence at `i` (RFC 3629: no overlongs, surrogates, > U+10FFFF), 0 if none. */
function utf8Length(b: Uint8Array, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const cont = (k: number): boolean => ((b[i + k] ?? 0) & 0xc0) === 0x80;
  const c1 = b[i + 1] ?? 0;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if ((c === 0xe0 && c1 < 0xa0) || (c === 0xed && c1 > 0x9f)) return 0;
    return cont(1) && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if ((c === 0xf0 && c1 < 0x90) || (c === 0xf4 && c1 > 0x8f)) return 0;
    return cont(1) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/** Counts of valid multi-byte sequences and of bytes outside any valid sequence (0x80 among them apart). */
export function scanUtf8(b: Uint8Array): { multiByte: number; invalid: number; invalid80: number } {
  let multiByte = 0, invalid = 0, invalid80 = 0;
  for (let i = 0; i < b.length;) {
    const n = utf8Length(b, i);
    if (n === 0) {
      invalid++;
      if (b[i] === 0x80) invalid80++;
      i++;
    } else {
      if (n > 1) multiByte++;
      i += n;
    }
  }
  return { multiByte, invalid, invalid80 };
}

/** Valid UTF-8 sequences as UTF-8, every other byte as Windows-1252 (never U+FFFD). */
export function decodeMixed(bytes: Uint8Array): string {
  const b = toBuffer(bytes);
  let out = '';
  let run = 0; // start of the current run of valid UTF-8
  for (let i = 0; i < b.length;) {
    const n = utf8Length(b, i);
    if (n > 0) { i += n; continue; }
    out += b.toString('utf8', run, i) + decodeWindows1252(b.subarray(i, i + 1));
    run = ++i;
  }
  return out + b.toString('utf8', run, b.length);
}

/**
 * Decodes bytes in the declared charset: UTF-8/ASCII/none are sniffed (invalid UTF-8 → Windows-1252),
 * an unknown or refused charset is sniffed too and noted, a known one goes through iconv-lite.
 */
export function decodeBytes(bytes: Uint8Array, declared?: string): Decoded {
  const cs = normalizeCharsetName(declared);
  if (isUtf8Like(cs)) {
    const d = sniffDecode(bytes);
    // Over IMAP Dovecot serves a NUL byte as 0x80, which would show as "€" with no trace. 0x80 is
    // never valid alone in UTF-8 or ASCII, so in a part that says it is one of them it may be a NUL.
    if (cs !== '' && d.problems.length && scanUtf8(bytes).invalid80 > 0) d.problems.push('possible-nul-bytes');
    return d;
  }
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

/** Base64 text with characters outside its alphabet (line breaks, spaces and '=' padding allowed). */
export function isInvalidBase64(s: string): boolean {
  return /[^A-Za-z0-9+/=\s]/.test(s);
}

/** Undo a Content-Transfer-Encoding; unknown encodings pass through as-is. Invalid base64 is noted. */
export function decodeTransfer(body: Uint8Array, cte: string, problems?: string[]): Uint8Array {
  const enc = cte.trim().toLowerCase();
  const s = (): string => toBuffer(body).toString('latin1');
  if (enc === 'base64') {
    const text = s();
    if (problems && isInvalidBase64(text)) problems.push('invalid-base64');
    return Buffer.from(text.replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
  }
  if (enc === 'quoted-printable') return decodeQuotedPrintable(s());
  return body;
}
