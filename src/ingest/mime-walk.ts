// Tolerant MIME walker: turns a message body into text, html and attachments without mailparser,
// synchronously and bounded (MAX_PARTS, MAX_DEPTH). It exists for the cases mailparser cannot
// serve: it throws, errors or times out (parseMessage), a worker died (parseFallback), or it
// silently drops content such as a multipart without boundary, whose findings parse.ts merges in.
// It never throws on any input: broken boundaries are inferred, unlabelled multiparts read as text.
import { createHash } from 'node:crypto';
import { TEXT_TYPES, defaultName, type Body } from './body.js';
import { decodeBytes, decodeTransfer } from './charset.js';
import { parseStructured, scanHeaders, splitHead, type HeaderField } from './headers.js';
import { htmlToText } from './html-text.js';
import type { ParseOptions } from './parsed-message.js';

const MAX_DEPTH = 64;
const MAX_PARTS = 2000;

interface WalkState { body: Body; parts: number; problems: string[]; opts: ParseOptions }

export function walkTop(buf: Buffer, bodyStart: number, fields: HeaderField[], opts: ParseOptions, problems: string[]): Body {
  const st: WalkState = { body: { text: '', html: null, attachments: [] }, parts: 0, problems, opts };
  walk(buf.subarray(bodyStart), fields, 0, st);
  if (!st.body.text && st.body.html) st.body.text = htmlToText(st.body.html);
  return st.body;
}

function walk(body: Buffer, fields: HeaderField[], depth: number, st: WalkState): void {
  if (++st.parts > MAX_PARTS) { st.problems.push('truncated-parts'); return; }
  const get = (n: string): string => fields.find((f) => f.name === n)?.value ?? '';
  const ct = parseStructured(get('content-type') || 'text/plain');
  const cd = parseStructured(get('content-disposition'));
  const type = ct.value.includes('/') ? ct.value : 'text/plain';
  let asText = false; // a multipart with no usable delimiter is most likely mislabelled text
  if (type.startsWith('multipart/')) {
    const boundary = ct.params['boundary']?.trim() || inferBoundary(body);
    const pieces = boundary && depth < MAX_DEPTH ? splitMultipart(body, boundary) : [];
    if (!ct.params['boundary']) st.problems.push('missing-boundary');
    if (depth >= MAX_DEPTH) st.problems.push('truncated-nesting');
    for (const piece of pieces) {
      const h = splitHead(piece);
      walk(piece.subarray(h.bodyStart), scanHeaders(piece.subarray(0, h.headEnd), st.problems), depth + 1, st);
    }
    if (pieces.length) return;
    asText = depth < MAX_DEPTH; // too deep: kept whole as an attachment below
  }
  const data = decodeTransfer(body, get('content-transfer-encoding'), st.problems);
  if ((TEXT_TYPES.has(type) || asText) && cd.value !== 'attachment') {
    const d = decodeBytes(data, ct.params['charset']);
    st.problems.push(...d.problems);
    const t = d.text.replace(/\r\n/g, '\n'); // line endings as mailparser gives them
    if (type === 'text/html') st.body.html = (st.body.html ?? '') + t;
    else st.body.text += (st.body.text ? '\n' : '') + t;
    return;
  }
  const n = st.body.attachments.length;
  const filename = cd.params['filename'] || ct.params['name'] || defaultName(n, type);
  const max = st.opts.maxAttachmentBytes;
  const big = max !== undefined && data.length > max;
  if (big) st.problems.push(`attachment-too-large:${filename}`);
  const cid = get('content-id').replace(/^\s*<|>\s*$/g, '');
  st.body.attachments.push({
    id: createHash('sha256').update(data).digest('hex'), filename, contentType: type, size: data.length,
    ...(cid ? { contentId: cid } : {}), inline: cd.value === 'inline', content: big ? new Uint8Array(0) : new Uint8Array(data),
  });
}

function inferBoundary(body: Buffer): string {
  const m = /^--([\x21-\x7e][\x20-\x7e]{0,69}?)[ \t]*\r?$/m.exec(body.subarray(0, 65536).toString('latin1'));
  return m?.[1]?.replace(/--$/, '') ?? '';
}

function splitMultipart(body: Buffer, boundary: string): Buffer[] {
  const delim = Buffer.from('--' + boundary, 'latin1');
  const out: Buffer[] = [];
  let start = -1;
  let i = body.indexOf(delim);
  while (i >= 0) {
    let j = i + delim.length;
    const closing = body[j] === 0x2d && body[j + 1] === 0x2d;
    if (closing) j += 2;
    while (body[j] === 0x20 || body[j] === 0x09) j++;
    // a delimiter is a whole line: "--b1" must not split at a nested part's "--b10"
    if ((i === 0 || body[i - 1] === 0x0a) && (j >= body.length || body[j] === 0x0a || body[j] === 0x0d)) {
      if (start >= 0) out.push(body.subarray(start, Math.max(start, i - (body[i - 2] === 0x0d ? 2 : 1))));
      if (closing) return out;
      const eol = body.indexOf(0x0a, j);
      start = eol < 0 ? body.length : eol + 1;
    }
    i = body.indexOf(delim, i + delim.length);
  }
  if (start >= 0) out.push(body.subarray(start));
  return out;
}
