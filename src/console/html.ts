// Why this file exists: the console's HTML, built as strings with every interpolated value escaped
// (esc / the html tag), the page layout (navigation, sign-out, language switch) and the headers every
// console page carries: a strict CSP with no inline script or style, no framing, no caching.
import type { ServerResponse } from 'node:http';
import type { Lang, T } from './i18n.js';

/** Escaped text for element content and quoted attribute values. */
export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Marks already-built HTML so html`` does not escape it again. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export const raw = (s: string) => new Html(s);

/** Template tag: interpolations are escaped unless they are Html (or arrays of it). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => {
    const part = (x: unknown): string => (x instanceof Html ? x.text : Array.isArray(x) ? x.map(part).join('') : x === null || x === undefined || x === false ? '' : esc(x));
    out += part(v) + strings[i + 1]!;
  });
  return new Html(out);
}

export const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/** The frame that shows a mail's sanitised HTML: its own styles only, no script, no request anywhere. */
export const MAIL_FRAME_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox";

export const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

export function sendHtml(res: ServerResponse, status: number, body: Html, headers: Record<string, string> = {}): void {
  const text = body.text;
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(text), 'content-security-policy': PAGE_CSP, 'x-frame-options': 'DENY', ...SECURITY_HEADERS, ...headers });
  res.end(text);
}

export function redirect(res: ServerResponse, to: string, headers: Record<string, string> = {}): void {
  res.writeHead(303, { location: to, 'content-length': 0, ...SECURITY_HEADERS, ...headers });
  res.end();
}

export const NAV = [
  ['mailboxes', 'Mailboxes'],
  ['approvals', 'Approvals'],
  ['tickets', 'Tickets'],
  ['webhooks', 'Webhooks and outbox'],
  ['config', 'Configuration'],
] as const;

export interface PageFrame {
  lang: Lang;
  t: T;
  title: string;
  /** the signed-in operator, or null on the sign-in page */
  who: { name: string; csrf: string } | null;
  active?: (typeof NAV)[number][0];
  flash?: { kind: 'ok' | 'error'; text: string } | null;
}

/** A POST form with the session's CSRF token; `confirm` asks first (console.js). */
export function postForm(action: string, csrf: string, label: string, o: { fields?: Record<string, string>; confirm?: string; cls?: string } = {}): Html {
  const hidden = Object.entries(o.fields ?? {}).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`);
  return html`<form method="post" action="${action}" class="inline"${o.confirm ? raw(` data-confirm="${esc(o.confirm)}"`) : ''}><input type="hidden" name="_csrf" value="${csrf}">${hidden}<button type="submit"${o.cls ? raw(` class="${esc(o.cls)}"`) : ''}>${label}</button></form>`;
}

export function layout(f: PageFrame, body: Html): Html {
  const { t } = f;
  const nav = f.who
    ? html`<nav aria-label="main"><ul>${NAV.map(([k, label]) => html`<li><a href="/console/${k}"${f.active === k ? raw(' aria-current="page"') : ''}>${t(label)}</a></li>`)}</ul>
  <div class="who">${t('Signed in as')} <strong>${f.who.name}</strong> ${postForm('/console/logout', f.who.csrf, t('Sign out'))}</div></nav>`
    : '';
  const other = f.lang === 'pt' ? ['en', 'English'] : ['pt', 'Português'];
  return html`<!doctype html>
<html lang="${f.lang === 'pt' ? 'pt-BR' : 'en'}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${f.title} · mailroom</title>
<link rel="stylesheet" href="/console/assets/console.css"><script src="/console/assets/console.js" defer></script></head>
<body>
<header><a class="brand" href="/console">mailroom</a>${nav}<a class="lang" href="/console/lang/${other[0]}" hreflang="${other[0]}">${other[1]}</a></header>
<main id="main">
<h1>${f.title}</h1>
${f.flash ? html`<p class="flash ${f.flash.kind}" role="status">${f.flash.text}</p>` : ''}
${body}
</main>
</body></html>`;
}

export function table(headers: string[], rows: unknown[][], caption?: string): Html {
  return html`<table>${caption ? html`<caption>${caption}</caption>` : ''}<thead><tr>${headers.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead><tbody>${rows.map((r) => html`<tr>${r.map((c) => html`<td>${c}</td>`)}</tr>`)}</tbody></table>`;
}
