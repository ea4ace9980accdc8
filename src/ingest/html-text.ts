// html → text for html-only mail, used by parse.ts (mailparser path) and mime-walk.ts (fallback).
// It exists because mailparser's html-to-text costs ~0.8 µs per character (40 ms for a 50 KB
// newsletter), which alone would sink ingest throughput. A linear, single-pass converter: no regex
// backtracking on hostile markup.
import { trimLines } from './charset.js';

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
