// The cap on sanitising mail HTML (issue 20): sanitize-html's cost grows faster than linearly with
// nesting, so HTML is sanitised at ingest in the parse workers up to MAX_SANITIZE_HTML_CHARS and
// stored; beyond that the article is text only and flagged 'html-too-large'. Articles stored before
// (no sanitised copy) are sanitised by the API only up to LEGACY_SANITIZE_MAX_CHARS.
import { describe, expect, it } from 'vitest';
import { articleView } from '../../src/http/ticket-view.js';
import { parseMessage } from '../../src/ingest/parse.js';
import { LEGACY_SANITIZE_MAX_CHARS, MAX_SANITIZE_HTML_CHARS, sanitizeCapped, sanitizeMailHtml } from '../../src/ingest/sanitize-html.js';
import { sampleArticle } from '../support/store-sample.js';
import type { Article } from '../../src/store/types.js';

const htmlMail = (html: string): Buffer =>
  Buffer.from(`From: a@x.example\r\nTo: b@y.example\r\nSubject: s\r\nMessage-ID: <m@x>\r\nContent-Type: text/html; charset=utf-8\r\n\r\n${html}`);

describe('sanitizeCapped', () => {
  it('sanitises up to the cap and declines beyond it without parsing', () => {
    expect(MAX_SANITIZE_HTML_CHARS).toBe(256 * 1024);
    expect(sanitizeCapped('<p onclick="x()">hi</p><script>s()</script>')).toBe('<p>hi</p>');
    const atCap = '<b>'.repeat(10) + 'x'.repeat(MAX_SANITIZE_HTML_CHARS - 30);
    expect(sanitizeCapped(atCap)).toContain('xxx');
    const t = performance.now();
    expect(sanitizeCapped('<b>'.repeat(320_000) + 'x')).toBeNull(); // the 960 KB mail of issue 20: took 32 s
    expect(performance.now() - t).toBeLessThan(50);
    expect(sanitizeCapped('<p>0123456789</p>', 10)).toBeNull();
  });
});

describe('parseMessage: sanitised HTML made at ingest', () => {
  it('carries a sanitised copy next to the html', async () => {
    const m = await parseMessage(htmlMail('<p onclick="x()">Hello <b>there</b></p><img src="https://t.example/p.gif">'));
    expect(m.html).toContain('onclick');
    expect(m.safeHtml).toBe('<p>Hello <b>there</b></p>');
    expect(m.problems).not.toContain('html-too-large');
  });

  it('over the cap: no sanitised copy, text only, html-too-large', async () => {
    const m = await parseMessage(htmlMail('<b>'.repeat(320_000) + 'x'));
    expect(m.safeHtml).toBeNull();
    expect(m.problems).toContain('html-too-large');
    expect(m.text).toBe('x');
  });

  it('no html part: safeHtml null', async () => {
    const m = await parseMessage(Buffer.from('From: a@x.example\r\nSubject: s\r\n\r\nplain\r\n'));
    expect(m.safeHtml).toBeNull();
  });
});

describe('articleView: which HTML is shown', () => {
  const base = (over: Partial<Article>): Article => ({ ...sampleArticle({ uid: 1, company: 'acme' }), no: 1, createdAt: '2024-05-07T08:00:00.000Z', ...over });
  const never = { sanitize: (): string => { throw new Error('must not sanitise on the API thread'); } };

  it('uses the copy sanitised at ingest, never sanitising again', () => {
    const v = articleView('T-1', base({ html: '<p onclick="x()">a</p>', safeHtml: '<p>a</p>' }), never);
    expect(v.html).toBe('<p>a</p>');
  });

  it('an article flagged html-too-large at ingest shows text only', () => {
    const v = articleView('T-1', base({ html: '<b>'.repeat(1000), safeHtml: null, flags: ['html-too-large'] }), never);
    expect(v.html).toBeNull();
    expect(v.flags).toEqual(['html-too-large']);
  });

  it('an old article (no sanitised copy) over the API cap: text only, flagged in the view', () => {
    const calls: number[] = [];
    const sanitize = (h: string): string | null => { calls.push(h.length); return h.length > LEGACY_SANITIZE_MAX_CHARS ? null : sanitizeMailHtml(h); };
    const big = articleView('T-1', base({ html: '<b>'.repeat(LEGACY_SANITIZE_MAX_CHARS) }), { sanitize });
    expect(big.html).toBeNull();
    expect(big.flags).toContain('html-too-large');
    const small = articleView('T-1', base({ html: '<p onclick="x()">a</p>' }), { sanitize });
    expect(small.html).toBe('<p>a</p>');
    expect(small.flags).not.toContain('html-too-large');
  });
});
