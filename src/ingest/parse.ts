// Raw mail bytes → ParsedMessage. Exists so that every mailbox reader has exactly one way to turn
// bytes into a message that never throws, never hangs and never silently loses content.
//
// Split of work: header-derived fields (ids, subject, addresses, date, the routing `headers` map)
// come from our own bounded scan of the top-level header block (headers.ts), which also serves the
// fallback. mailparser does the MIME tree, transfer decoding and attachments; two instance-level
// hooks make its text-part decoding sniff charsets (by itself it turns invalid UTF-8 and unknown
// charsets into U+FFFD). html→text is ours (html-text.ts), mailparser's is ~100× slower. If mailparser
// throws, emits an error or runs past the timeout, a tolerant MIME walker (mime-walk.ts) produces the
// body instead and 'unparsed' is noted; if it silently drops content (multipart without boundary)
// the walker's findings are merged in ('body-recovered').
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { MailParser, parseAddressHeader } from 'mailparser';
import type { AttachmentStream, MessageText } from 'mailparser';
import { TEXT_TYPES, defaultName, type Body } from './body.js';
import { decodeBytes, fixC1, isInvalidBase64, isUtf8Like, isValidUtf8, normalizeCharsetName, sniffDecode, toBuffer } from './charset.js';
import { decodeWords, hasAnyControl, hasControls, parseDate, parseIds, parseStructured, scanHeaders, splitHead, stripControls, type HeaderField } from './headers.js';
import { htmlToText } from './html-text.js';
import { walkTop } from './mime-walk.js';
import { sanitizeCapped } from './sanitize-html.js';
import type { Address, ParsedAttachment, ParsedMessage, ParseOptions } from './parsed-message.js';

export type { ParsedMessage, ParseOptions } from './parsed-message.js';

const DEFAULT_TIMEOUT_MS = 5000; // plus 100 ms per MB of body
const SNIFF = 'x-mailroom-sniff';

export async function parseMessage(raw: Uint8Array, opts: ParseOptions = {}): Promise<ParsedMessage> {
  const problems: string[] = [];
  try {
    const buf = toBuffer(raw);
    const { headEnd, bodyStart } = splitHead(buf);
    const fields = scanHeaders(buf.subarray(0, headEnd), problems);
    // mailparser only gets the MIME fields of the top-level header: everything else comes from
    // our own scan, so it does not parse addresses twice, and a huge header block cannot trip
    // mailsplit's 1 MB header limit
    const mime = fields.filter((f) => f.name.startsWith('content-') || f.name === 'mime-version');
    const head = Buffer.from(mime.map((f) => `${f.name}: ${f.value.slice(0, 16384)}\r\n`).join('') + '\r\n');
    let body: Body;
    try {
      const mp = await runMailparser([head, buf.subarray(bodyStart)], opts, problems);
      body = mp.body;
      const empty = !body.text.trim() && !body.html && body.attachments.length === 0;
      if (mp.missingBoundary || (empty && /\S/.test(buf.subarray(bodyStart, bodyStart + 65536).toString('latin1')))) {
        body = recover(body, walkTop(buf, bodyStart, fields, opts, problems), problems);
      }
    } catch (err) {
      problems.push('unparsed');
      if (err instanceof Error && err.message === 'timeout') problems.push('timeout');
      body = walkTop(buf, bodyStart, fields, opts, problems);
    }
    return withSafeHtml(assemble(buf, fields, body, problems));
  } catch {
    return emergency(raw, problems);
  }
}

/**
 * The display copy of the HTML, sanitised here (a parse worker: timeout and memory cap) rather than
 * by the API on its one thread; over MAX_SANITIZE_HTML_CHARS none ('html-too-large', text only).
 * parseFallback leaves it out: it runs on the main thread after a worker died.
 */
function withSafeHtml(m: ParsedMessage): ParsedMessage {
  if (m.html === null) return { ...m, safeHtml: null };
  try {
    const safeHtml = sanitizeCapped(m.html);
    return { ...m, safeHtml, problems: safeHtml === null ? [...m.problems, 'html-too-large'] : m.problems };
  } catch {
    return m; // sanitize-html is total in practice; without a copy the API treats it like an old article
  }
}

/** Tolerant parse without mailparser (synchronous, bounded). Used by the pool when a worker dies. */
export function parseFallback(raw: Uint8Array, extraProblems: string[] = [], opts: ParseOptions = {}): ParsedMessage {
  const problems = ['unparsed', ...extraProblems];
  try {
    const buf = toBuffer(raw);
    const { headEnd, bodyStart } = splitHead(buf);
    const fields = scanHeaders(buf.subarray(0, headEnd), problems);
    return assemble(buf, fields, walkTop(buf, bodyStart, fields, opts, problems), problems);
  } catch {
    return emergency(raw, problems);
  }
}

// ---------------------------------------------------------------- mailparser

interface Hooked { decoder?: { decodeStream(charset: string): Transform & { supported?: boolean } }; createNode?: (node: unknown) => unknown }

/** Buffers a text part, then decodes it: valid UTF-8 as is, else Windows-1252 / sniffed unknown charset. */
class SniffStream extends Transform {
  private chunks: Buffer[] = [];
  constructor(private readonly declared: string, private readonly problems: string[]) { super(); }
  override _transform(chunk: Buffer | string, _enc: BufferEncoding, cb: TransformCallback): void {
    this.chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    cb();
  }
  override _flush(cb: TransformCallback): void {
    try {
      const buf = Buffer.concat(this.chunks);
      this.chunks = [];
      if (isUtf8Like(this.declared) && isValidUtf8(buf)) return cb(null, buf);
      const d = decodeBytes(buf, this.declared);
      this.problems.push(...d.problems);
      cb(null, Buffer.from(d.text, 'utf8'));
    } catch (err) {
      cb(err instanceof Error ? err : new Error(String(err)));
    }
  }
}

function installHooks(parser: MailParser, problems: string[], state: { missingBoundary: boolean }): void {
  const p = parser as unknown as Hooked;
  const orig = p.decoder;
  const create = p.createNode;
  if (!orig || typeof orig.decodeStream !== 'function' || typeof create !== 'function') {
    problems.push('charset-hooks-unavailable'); // mailparser internals changed: tests will say so
    return;
  }
  p.createNode = function (this: unknown, node: unknown) {
    const n = create.call(this, node) as { isAttachment?: boolean; contentType?: string; charset?: string; encoding?: string; decoder?: { write(chunk: Buffer): boolean } } | undefined;
    const src = node as { multipart?: unknown; _boundary?: unknown } | undefined;
    if (src?.multipart && !src._boundary) state.missingBoundary = true;
    if (n && !n.isAttachment && TEXT_TYPES.has(n.contentType ?? '')) {
      const cs = normalizeCharsetName(n.charset);
      // the declared name rides along: only a part that says UTF-8/ASCII may be 'possible-nul-bytes'
      if (isUtf8Like(cs)) n.charset = `${SNIFF}:${cs}`; // makes mailparser route the part through decodeStream below
      if (n.encoding === 'base64' && n.decoder) watchBase64(n.decoder, problems);
    }
    return n;
  };
  p.decoder = {
    decodeStream(charset: string) {
      if (charset.startsWith(`${SNIFF}:`)) return new SniffStream(charset.slice(SNIFF.length + 1), problems);
      const s = orig.decodeStream(charset);
      return s.supported === false ? new SniffStream(normalizeCharsetName(charset), problems) : s;
    },
  };
}

/**
 * Notes 'invalid-base64' when a text part's base64 holds characters outside the alphabet: the decoder
 * skips them silently and what is left decodes to junk (control characters) nobody would explain.
 * Text parts only: they are small, while scanning every attachment would cost the parse workers.
 */
function watchBase64(decoder: { write(chunk: Buffer): boolean }, problems: string[]): void {
  const write = decoder.write.bind(decoder);
  decoder.write = (chunk: Buffer): boolean => {
    if (!problems.includes('invalid-base64') && isInvalidBase64(toBuffer(chunk).toString('latin1'))) problems.push('invalid-base64');
    return write(chunk);
  };
}

function runMailparser(input: [Buffer, Buffer], opts: ParseOptions, problems: string[]): Promise<{ body: Body; missingBoundary: boolean }> {
  return new Promise((resolve, reject) => {
    const state = { missingBoundary: false };
    const parser = new MailParser({
      skipTextToHtml: true, skipTextLinks: true, skipImageLinks: true,
      checksumAlgo: 'sha256', skipHtmlToText: true, // htmlToText() below is ~100× faster
    });
    installHooks(parser, problems, state);
    const atts: Promise<ParsedAttachment>[] = [];
    let textObj: MessageText | null = null;
    let done = false;
    const finish = (err: unknown, body?: Body): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err || !body) {
        parser.removeAllListeners('data');
        parser.on('error', () => {});
        parser.destroy();
        reject(err instanceof Error ? err : new Error(String(err)));
      } else resolve({ body, missingBoundary: state.missingBoundary });
    };
    const timer = setTimeout(() => finish(new Error('timeout')), opts.timeoutMs ?? DEFAULT_TIMEOUT_MS + input[1].length / 10_000);
    parser.on('data', (data: AttachmentStream | MessageText) => {
      try {
        if (data.type === 'attachment') atts.push(collect(data, atts.length, opts.maxAttachmentBytes, problems));
        else textObj = data;
      } catch (err) {
        finish(err);
      }
    });
    parser.on('error', (err: unknown) => finish(err));
    parser.on('end', () => {
      Promise.all(atts).then((attachments) => {
        const t = textObj as MessageText | null;
        const html = typeof t?.html === 'string' ? t.html : null;
        let text = typeof t?.text === 'string' ? t.text : '';
        if (!text.trim() && html) text = htmlToText(html);
        finish(null, { text, html, attachments });
      }).catch((err: unknown) => finish(err));
    });
    try { parser.write(input[0]); parser.end(input[1]); } catch (err) { finish(err); }
  });
}

// Every callback below runs from a stream event, outside parseMessage's try/catch: each one catches
// for itself, since an exception escaping from an event handler would take the process down.
function collect(att: AttachmentStream, index: number, max: number | undefined, problems: string[]): Promise<ParsedAttachment> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    att.content.on('data', (c: Buffer) => { size += c.length; if (max === undefined || size <= max) chunks.push(c); });
    att.content.once('error', reject);
    att.content.once('end', () => {
      try {
        const content = concat(chunks, size, max);
        const contentType = (typeof att.contentType === 'string' && att.contentType) || 'application/octet-stream';
        const filename = fixC1(typeof att.filename === 'string' ? att.filename : '') || defaultName(index, contentType);
        if (max !== undefined && size > max) problems.push(`attachment-too-large:${filename}`);
        resolve({
          id: att.checksum ?? createHash('sha256').update(content).digest('hex'),
          filename, contentType: contentType.toLowerCase(), size,
          ...(typeof att.cid === 'string' && att.cid ? { contentId: att.cid } : {}),
          inline: att.contentDisposition === 'inline' || (!!att.cid && !!att.related),
          content,
        });
      } catch (err) {
        reject(err);
      }
      try { att.release?.(); } catch { /* the parse is failing anyway */ }
    });
  });
}

/** Own-buffer Uint8Array (never a pooled Buffer slab) so the pool can transfer it. */
function concat(chunks: Uint8Array[], size: number, max?: number): Uint8Array {
  if (max !== undefined && size > max) return new Uint8Array(0);
  const out = new Uint8Array(size);
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.length; }
  return out;
}

/** mailparser lost part of the body (e.g. nested multipart without boundary): add what the walker found. */
function recover(mp: Body, fb: Body, problems: string[]): Body {
  const ids = new Set(mp.attachments.map((a) => a.id));
  const extra = fb.attachments.filter((a) => !ids.has(a.id));
  const longer = fb.text.trim().length > mp.text.trim().length;
  if (!longer && !extra.length && (mp.html || !fb.html)) return mp;
  problems.push('body-recovered');
  return { text: longer ? fb.text : mp.text, html: mp.html ?? fb.html, attachments: [...mp.attachments, ...extra] };
}

// ---------------------------------------------------------------- assembly

/** RFC 5322's line limit. A longer subject is broken or hostile and would be the ticket's title; the raw keeps it whole. */
export const MAX_SUBJECT_CHARS = 998;

function assemble(buf: Buffer, fields: HeaderField[], body: Body, problems: string[]): ParsedMessage {
  const clean = (s: string): string => {
    if (!hasAnyControl(s)) return s; // one scan in the usual case (a body is scanned once, not twice)
    if (hasControls(s)) problems.push('control-chars');
    return stripControls(s);
  };
  const headers: Record<string, string[]> = {};
  for (const f of fields) {
    if (!Object.prototype.hasOwnProperty.call(headers, f.name)) {
      Object.defineProperty(headers, f.name, { value: [], enumerable: true, writable: true, configurable: true });
    }
    headers[f.name]?.push(clean(decodeWords(f.value, problems)));
  }
  const all = (n: string): string[] => fields.filter((f) => f.name === n).map((f) => f.value);
  const messageId = parseIds(all('message-id')[0] ?? '')[0] ?? null;
  if (!messageId) problems.push('no-message-id');
  const dateRaw = all('date')[0];
  const date = parseDate(dateRaw);
  if (dateRaw && !date) problems.push('invalid-date');
  if (buf.indexOf(0) >= 0) problems.push('nul-bytes');
  const contentType = parseStructured(all('content-type')[0] ?? '').value;
  let subject = headers['subject']?.[0] ?? '';
  if (subject.length > MAX_SUBJECT_CHARS) {
    subject = subject.slice(0, MAX_SUBJECT_CHARS).replace(/[\uD800-\uDBFF]$/, ''); // no half surrogate pair
    problems.push('subject-truncated');
  }
  return {
    messageId, inReplyTo: parseIds(all('in-reply-to').join(' ')), references: parseIds(all('references').join(' ')),
    subject,
    from: addresses(all('from'), clean)[0] ?? null, to: addresses(all('to'), clean), cc: addresses(all('cc'), clean), replyTo: addresses(all('reply-to'), clean),
    date, headers, text: clean(body.text), html: body.html === null ? null : clean(body.html),
    attachments: body.attachments.map((a) => ({ ...a, filename: clean(a.filename) })),
    size: buf.length, contentType: contentType.includes('/') ? contentType : 'text/plain',
    problems: [...new Set(problems)],
  };
}

function emergency(raw: Uint8Array, problems: string[]): ParsedMessage {
  let text = '';
  try { text = stripControls(sniffDecode(raw).text); } catch { /* nothing left to try */ }
  return {
    messageId: null, inReplyTo: [], references: [], subject: '', from: null, to: [], cc: [], replyTo: [], date: null,
    headers: {}, text, html: null, attachments: [], size: raw.byteLength, contentType: 'text/plain',
    problems: [...new Set([...problems, 'unparsed', 'no-message-id'])],
  };
}

function addresses(values: string[], clean: (s: string) => string): Address[] {
  if (!values.length) return [];
  try {
    return parseAddressHeader(values.map(clean), { flatten: true }).value
      .filter((a) => a.name || a.address)
      .map((a) => ({
        name: clean(a.name ?? ''),
        address: (a.address ?? '').replace(/@([^@]*)$/, (_m, d: string) => '@' + d.toLowerCase()),
      }));
  } catch {
    return [];
  }
}
