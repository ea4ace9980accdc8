// The API views of a ticket: an allowlist of fields (no dedupe keys, blob refs, raw headers or id
// prefix — not even when the store adds fields later), positional attachment ids with download URLs,
// sanitised HTML; plus the download headers (Content-Type, Content-Disposition).
import { describe, expect, it } from 'vitest';
import { contentDisposition, safeContentType } from '../../src/http/ticket-routes.js';
import { sanitizeMailHtml } from '../../src/ingest/sanitize-html.js';
import { attachmentPath, findAttachment, safeFilename, summaryView, ticketView } from '../../src/http/ticket-view.js';
import { sampleArticle } from '../support/store-sample.js';
import type { Article, Ticket } from '../../src/store/types.js';

const SHA_RAW = 'a'.repeat(64);
const SHA_PDF = 'b'.repeat(64);
const SHA_PNG = 'c'.repeat(64);

function ticket(): Ticket {
  const a1: Article = {
    ...sampleArticle({ uid: 1, company: 'acme' }),
    no: 1,
    createdAt: '2024-05-07T08:00:00.000Z',
    rawRef: SHA_RAW,
    html: '<p onclick="x()">Hi</p><script>steal()</script><img src="https://t.example/p.gif">',
    headers: { date: ['Tue, 07 May 2024 10:11:12 +0200'], 'x-secret-header': ['internal'], authorization: ['Bearer nope'] },
    attachments: [
      { id: SHA_PDF, filename: 'a.pdf', contentType: 'application/pdf', size: 10, inline: false },
      { id: SHA_PNG, filename: 'logo.png', contentType: 'image/png', size: 5, inline: true },
    ],
  };
  const a2: Article = { ...sampleArticle({ uid: 2, company: 'acme' }), no: 2, createdAt: '2024-05-07T09:00:00.000Z', attachments: [{ id: SHA_PDF, filename: 'same-bytes.pdf', contentType: 'application/pdf', size: 10, inline: false }] };
  const t: Ticket & Record<string, unknown> = {
    id: 'ACME-000042',
    company: 'acme',
    contract: 'gold',
    status: 'open',
    type: 'incident',
    group: null,
    priority: 'high',
    tags: ['vip'],
    subject: 'Order problem',
    from: { name: 'Jane', address: 'jane@customer.example' },
    createdAt: '2024-05-07T08:00:00.000Z',
    updatedAt: '2024-05-07T09:00:00.000Z',
    articleCount: 2,
    lastArticleAt: '2024-05-07T09:00:00.000Z',
    prefix: 'ACME',
    fields: { orderNo: '123' },
    articles: [a1, a2],
    // fields a later store version might add: must not leak
    seq: 42,
    internalNote: 'do not show',
  };
  return t;
}

const opts = { sanitize: (h: string) => sanitizeMailHtml(h) };

describe('ticketView', () => {
  it('copies only public fields: no dedupe keys, blob refs, headers, prefix or unknown store fields', () => {
    const v = ticketView(ticket(), opts);
    const text = JSON.stringify(v);
    for (const s of ['dedupeKeys', 'rawRef', 'imap:support', 'mid:acme', SHA_RAW, SHA_PDF, SHA_PNG, 'headers', 'x-secret-header', 'Bearer nope', 'prefix', 'internalNote', '"seq"']) {
      expect(text, s).not.toContain(s);
    }
    expect(Object.keys(v).sort()).toEqual(
      ['articleCount', 'articles', 'company', 'contract', 'createdAt', 'fields', 'from', 'group', 'id', 'lastArticleAt', 'priority', 'status', 'subject', 'tags', 'type', 'updatedAt'].sort(),
    );
    expect(Object.keys(v.articles[0]!).sort()).toEqual(
      ['attachments', 'cc', 'createdAt', 'date', 'flags', 'from', 'html', 'inReplyTo', 'mailbox', 'messageId', 'no', 'rawUrl', 'receivedAt', 'references', 'serverDate', 'size', 'subject', 'text', 'to'].sort(),
    );
  });

  it('articles: date from the Date header, sanitised html, attachments with positional ids and URLs, raw URL', () => {
    const v = ticketView(ticket(), opts);
    const a = v.articles[0]!;
    expect(a.date).toBe('2024-05-07T08:11:12.000Z');
    expect(a.html).toBe('<p>Hi</p>');
    expect(a.rawUrl).toBe('/v1/tickets/ACME-000042/articles/1/raw');
    expect(a.attachments).toEqual([
      { id: '1.1', filename: 'a.pdf', contentType: 'application/pdf', size: 10, inline: false, url: '/v1/tickets/ACME-000042/attachments/1.1' },
      { id: '1.2', filename: 'logo.png', contentType: 'image/png', size: 5, inline: true, url: '/v1/tickets/ACME-000042/attachments/1.2' },
    ]);
    const b = v.articles[1]!;
    expect(b.html).toBeNull();
    expect(b.rawUrl).toBeNull();
    expect(b.date).toBeNull();
    expect(b.attachments[0]!.id).toBe('2.1');
  });

  it('absolute URLs under a base URL; ids are URL-encoded', () => {
    const t = ticket();
    t.id = 'A B/1';
    const v = ticketView(t, { ...opts, baseUrl: 'https://mail.example.com' });
    expect(v.articles[0]!.attachments[0]!.url).toBe('https://mail.example.com/v1/tickets/A%20B%2F1/attachments/1.1');
    expect(summaryView(t, 'https://m.example').url).toBe('https://m.example/v1/tickets/A%20B%2F1');
    expect(attachmentPath('X-1', 3, 2)).toBe('/v1/tickets/X-1/attachments/3.2');
  });

  it('copies, does not alias, the store objects', () => {
    const t = ticket();
    const v = ticketView(t, opts);
    v.tags.push('x');
    v.articles[0]!.to.push({ name: '', address: 'x' });
    v.fields['orderNo'] = 'changed';
    expect(t.tags).toEqual(['vip']);
    expect(t.articles[0]!.to).toHaveLength(1);
    expect(t.fields['orderNo']).toBe('123');
  });

  it('summaryView lists the summary fields and a URL', () => {
    expect(Object.keys(summaryView(ticket())).sort()).toEqual(
      ['articleCount', 'company', 'contract', 'createdAt', 'from', 'group', 'id', 'lastArticleAt', 'priority', 'status', 'subject', 'tags', 'type', 'updatedAt', 'url'].sort(),
    );
  });
});

describe('findAttachment', () => {
  it('by position, or by content hash as an alias; only within this ticket', () => {
    const t = ticket();
    expect(findAttachment(t, '1.2')?.attachment.filename).toBe('logo.png');
    expect(findAttachment(t, '2.1')?.attachment.filename).toBe('same-bytes.pdf');
    expect(findAttachment(t, SHA_PDF)).toMatchObject({ index: 1, attachment: { filename: 'a.pdf' } });
    expect(findAttachment(t, SHA_PDF.toUpperCase())?.attachment.filename).toBe('a.pdf');
    for (const bad of ['1.3', '3.1', '0.1', '1.0', '01.1', '1', 'd'.repeat(64), '../x', '', '1.1.1', '1.1 ']) expect(findAttachment(t, bad), bad).toBeNull();
  });
});

describe('attachment filenames in the JSON', () => {
  it('are the sanitised name the download gives; the original is kept beside it when it differs', () => {
    const t = ticket();
    t.articles[0]!.attachments[0]!.filename = '../../../../etc/passwd';
    const [hostile, plain] = ticketView(t, { sanitize: sanitizeMailHtml }).articles[0]!.attachments;
    expect(hostile).toMatchObject({ filename: '.._.._.._.._etc_passwd', originalFilename: '../../../../etc/passwd' });
    expect(plain!.filename).toBe('logo.png');
    expect(plain).not.toHaveProperty('originalFilename');
  });

  it('safeFilename agrees with the Content-Disposition name for every kind of input', () => {
    const names = ['report.pdf', '../../etc/passwd', 'a\\b/c', 'a\r\nSet-Cookie: x=1', '', '..', ' . ', '\ud800bad', 'x'.repeat(500), '😀'.repeat(300), 'é\u0301', '\u0085x\u009f'];
    for (const n of names) expect(safeFilename(n), JSON.stringify(n)).toBe(decodeURIComponent(contentDisposition(n).split("UTF-8''")[1]!));
  });
});

describe('download headers', () => {
  it('Content-Disposition: attachment with an ASCII fallback and an RFC 8187 filename*', () => {
    expect(contentDisposition('report.pdf')).toBe(`attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`);
    expect(contentDisposition('Grüße "Q1"; 100%.pdf')).toBe(`attachment; filename="Gr__e _Q1__ 100_.pdf"; filename*=UTF-8''Gr%C3%BC%C3%9Fe%20%22Q1%22%3B%20100%25.pdf`);
    expect(contentDisposition('../../etc/passwd')).toBe(`attachment; filename=".._.._etc_passwd"; filename*=UTF-8''.._.._etc_passwd`);
    expect(contentDisposition('a\r\nSet-Cookie: x=1')).toBe(`attachment; filename="aSet-Cookie: x=1"; filename*=UTF-8''aSet-Cookie%3A%20x%3D1`);
    expect(contentDisposition("it's (1)*.txt")).toBe(`attachment; filename="it's (1)*.txt"; filename*=UTF-8''it%27s%20%281%29%2A.txt`);
    expect(contentDisposition('')).toBe(`attachment; filename="attachment"; filename*=UTF-8''attachment`);
    expect(contentDisposition('..')).toBe(`attachment; filename="attachment"; filename*=UTF-8''attachment`);
    expect(contentDisposition('\ud800bad')).toBe(`attachment; filename="_bad"; filename*=UTF-8''%EF%BF%BDbad`);
    expect(contentDisposition('x'.repeat(500)).length).toBeLessThan(450);
    for (const name of ['\u0000', 'a\u2028b', '😀.png', 'é\u0301']) expect(contentDisposition(name)).toMatch(/^attachment; filename="[\x20-\x7e]*"; filename\*=UTF-8''[A-Za-z0-9%._~!$&+^`|#-]*$/);
  });

  it('Content-Type: a bare media type or application/octet-stream', () => {
    expect(safeContentType('application/pdf')).toBe('application/pdf');
    expect(safeContentType('Image/PNG')).toBe('image/png');
    expect(safeContentType('text/plain; charset=utf-8')).toBe('text/plain');
    expect(safeContentType('text/html\r\nX-Evil: 1')).toBe('application/octet-stream');
    expect(safeContentType('')).toBe('application/octet-stream');
    expect(safeContentType('nonsense')).toBe('application/octet-stream');
  });
});
