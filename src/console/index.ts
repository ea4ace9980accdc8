// Why this file exists: the operator console at /console, registered with one call from the daemon.
// Server-rendered pages (pages/*.ts) that read and act through the daemon's own API with the
// signed-in operator's token (api-client.ts), a session cookie instead of the token (session.ts),
// CSRF tokens and a same-origin check on every POST, a strict CSP (html.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DaemonHost as Daemon } from '../http/host.js';
import { authenticate } from '../http/auth.js';
import { readBody, type Handler } from '../http/server.js';
import { ApiClient } from './api-client.js';
import { CONSOLE_CSS, CONSOLE_JS } from './assets.js';
import { consoleHistory, MetricsHistory } from './charts.js';
import { apiError, enc, type Page, type PageContext } from './context.js';
import { html, layout, MAIL_FRAME_CSP, redirect, SECURITY_HEADERS, sendHtml } from './html.js';
import { pickLang, translator } from './i18n.js';
import { approvalsPage } from './pages/approvals.js';
import { configPage } from './pages/config.js';
import { mailboxesPage } from './pages/mailboxes.js';
import { ticketPage, ticketsPage } from './pages/tickets.js';
import { webhooksPage } from './pages/webhooks.js';
import { COOKIE, csrfMatches, parseCookies, sessionCookie, Sessions, type Session } from './session.js';

const FORM_LIMIT = 16 * 1024;
/** Answers copied from the API onto a download the console passes through. */
const DOWNLOAD_HEADERS = ['content-type', 'content-length', 'content-disposition', 'content-security-policy', 'x-content-type-options', 'cache-control'];

function isHttps(req: IncomingMessage, d: Daemon): boolean {
  return /^https:/i.test(d.snapshot?.server.publicUrl ?? '') || req.headers['x-forwarded-proto'] === 'https';
}

/**
 * A POST from another origin (a form on some other site) is refused even before the CSRF check. The
 * origin may be this listener (Host), the proxy's public name (X-Forwarded-Host: a cross-site form
 * cannot set it) or server.publicUrl. `Origin: null` (opaque origins) is refused.
 */
export function crossOrigin(req: IncomingMessage, publicUrl: string | null | undefined): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return true;
  }
  const fwd = req.headers['x-forwarded-host'];
  const allowed = [req.headers.host, ...(typeof fwd === 'string' ? fwd.split(',').map((h) => h.trim()) : [])];
  try {
    if (publicUrl) allowed.push(new URL(publicUrl).host);
  } catch {
    /* not a URL: the config schema says it is one */
  }
  return !allowed.includes(host);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams | null> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return null;
  try {
    return new URLSearchParams((await readBody(req, FORM_LIMIT)).toString('utf8'));
  } catch {
    return null;
  }
}

/** Where to go after an action: a console path given by the form, else `fallback`. */
function back(form: URLSearchParams, fallback: string): string {
  const b = form.get('back') ?? '';
  return /^\/console\/[^/\\]/.test(b) || b === '/console' ? b : fallback;
}

export function registerConsole(d: Daemon): Sessions {
  const sessions = new Sessions();
  const lang = (req: IncomingMessage) => pickLang(parseCookies(req.headers.cookie)['lang'], req.headers['accept-language']);

  const startCharts = () => {
    if (!consoleHistory.has(d.metrics)) consoleHistory.set(d.metrics, new MetricsHistory(d.metrics));
    consoleHistory.get(d.metrics)!.start();
  };

  /** The signed-in operator's context, or null (answered: back to sign-in). */
  async function context(req: IncomingMessage, res: ServerResponse, params: Record<string, string>, url: URL): Promise<PageContext | null> {
    const id = parseCookies(req.headers.cookie)[COOKIE];
    const session = sessions.get(id);
    const snap = d.snapshot;
    if (!session || !snap) {
      redirect(res, '/console/login');
      return null;
    }
    // The token is checked again on every request: a token removed from the config ends its sessions.
    const who = await authenticate({ headers: { authorization: `Bearer ${session.token}` } } as IncomingMessage, snap);
    if (!who) {
      sessions.destroy(session.id);
      redirect(res, '/console/login?expired=1', { 'set-cookie': sessionCookie('', isHttps(req, d), 0) });
      return null;
    }
    const l = lang(req);
    startCharts();
    return { d, api: new ApiClient(d.http, session.token), who, session, url, lang: l, t: translator(l), params };
  }

  function render(res: ServerResponse, c: PageContext, p: Page): void {
    const flash = c.session.flash;
    c.session.flash = null;
    sendHtml(res, p.status ?? 200, layout({ lang: c.lang, t: c.t, title: p.title, who: { name: c.who.name, csrf: c.session.csrf }, ...(p.active && { active: p.active }), flash }, p.body));
  }

  const page =
    (fn: (c: PageContext) => Promise<Page>): Handler =>
    async (req, res, params, url) => {
      const c = await context(req, res, params, url);
      if (c) render(res, c, await fn(c));
    };

  /** A POST action: same origin, a form with the session's CSRF token, then `fn` → 303 with a notice. */
  const action =
    (fn: (c: PageContext, form: URLSearchParams) => Promise<{ ok: boolean; text: string; to: string }>): Handler =>
    async (req, res, params, url) => {
      if (crossOrigin(req, d.snapshot?.server.publicUrl)) return sendHtml(res, 403, html`<p>cross-origin request refused</p>`);
      const c = await context(req, res, params, url);
      if (!c) return;
      const form = await readForm(req);
      if (!form || !csrfMatches(c.session, form.get('_csrf'))) return sendHtml(res, 403, html`<p>missing or invalid CSRF token: reload the page and try again</p>`);
      const r = await fn(c, form);
      c.session.flash = { kind: r.ok ? 'ok' : 'error', text: r.text };
      redirect(res, r.to);
    };

  const signIn = (req: IncomingMessage, res: ServerResponse, status: number, message: string | null) => {
    const l = lang(req);
    const t = translator(l);
    const body = html`<form class="signin" method="post" action="/console/login">
${message ? html`<p class="flash error" role="alert">${message}</p>` : ''}
<label for="token">${t('API token')}</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">${t('Sign in')}</button>
</form>`;
    sendHtml(res, status, layout({ lang: l, t, title: t('Sign in'), who: null }, body));
  };

  const http = d.http;
  http.on('GET', '/console', (req, res) => redirect(res, sessions.get(parseCookies(req.headers.cookie)[COOKIE]) ? '/console/mailboxes' : '/console/login'));
  http.on('GET', '/console/assets/console.css', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'public, max-age=3600', 'x-content-type-options': 'nosniff' });
    res.end(CONSOLE_CSS);
  });
  http.on('GET', '/console/assets/console.js', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=3600', 'x-content-type-options': 'nosniff' });
    res.end(CONSOLE_JS);
  });
  http.on('GET', '/console/lang/:lang', (req, res, params) => {
    const l = params['lang'] === 'pt' ? 'pt' : 'en';
    redirect(res, '/console', { 'set-cookie': `lang=${l}; Path=/console; SameSite=Strict; Max-Age=31536000${isHttps(req, d) ? '; Secure' : ''}` });
  });

  http.on('GET', '/console/login', (req, res, _p, url) => signIn(req, res, 200, url.searchParams.has('expired') ? translator(lang(req))('Your session expired: sign in again.') : null));
  http.on('POST', '/console/login', async (req, res) => {
    if (crossOrigin(req, d.snapshot?.server.publicUrl)) return sendHtml(res, 403, html`<p>cross-origin request refused</p>`);
    const snap = d.snapshot;
    const form = await readForm(req);
    const token = form?.get('token')?.trim() ?? '';
    const who = snap && token ? await authenticate({ headers: { authorization: `Bearer ${token}` } } as IncomingMessage, snap) : null;
    if (!who) {
      d.log.info({ remote: req.socket.remoteAddress }, 'console sign-in refused');
      return signIn(req, res, 401, translator(lang(req))('Invalid token.'));
    }
    const old = parseCookies(req.headers.cookie)[COOKIE];
    if (old) sessions.destroy(old);
    const s = sessions.create(token, who.name);
    d.log.info({ by: who.name, remote: req.socket.remoteAddress }, 'console sign-in');
    redirect(res, '/console/mailboxes', { 'set-cookie': sessionCookie(s.id, isHttps(req, d)) });
  });
  http.on('POST', '/console/logout', async (req, res, params, url) => {
    if (crossOrigin(req, d.snapshot?.server.publicUrl)) return sendHtml(res, 403, html`<p>cross-origin request refused</p>`);
    const c = await context(req, res, params, url);
    if (!c) return;
    const form = await readForm(req);
    if (!form || !csrfMatches(c.session, form.get('_csrf'))) return sendHtml(res, 403, html`<p>missing or invalid CSRF token</p>`);
    sessions.destroy(c.session.id);
    redirect(res, '/console/login', { 'set-cookie': sessionCookie('', isHttps(req, d), 0) });
  });

  http.on('GET', '/console/mailboxes', page(mailboxesPage));
  http.on('GET', '/console/approvals', page(approvalsPage));
  http.on('GET', '/console/tickets', page(ticketsPage));
  http.on('GET', '/console/tickets/:id', page(ticketPage));
  http.on('GET', '/console/webhooks', page(webhooksPage));
  http.on('GET', '/console/config', page(configPage));

  /** Raw message and attachments: the API's download, passed through with its headers. */
  const download =
    (path: (p: Record<string, string>) => string): Handler =>
    async (req, res, params, url) => {
      const c = await context(req, res, params, url);
      if (!c) return;
      const r = await c.api.fetch('GET', path(params));
      if (r.status !== 200 || !r.body) {
        const body = (await r.json().catch(() => ({}))) as unknown;
        return render(res, c, { title: c.t('Error'), body: html`<p class="flash error">${apiError(body, r.status)}</p>`, status: r.status });
      }
      const headers: Record<string, string> = {};
      for (const h of DOWNLOAD_HEADERS) {
        const v = r.headers.get(h);
        if (v !== null) headers[h] = v;
      }
      res.writeHead(200, headers);
      await pipeline(Readable.fromWeb(r.body as import('node:stream/web').ReadableStream), res);
    };
  http.on('GET', '/console/tickets/:id/articles/:n/raw', download((p) => `/v1/tickets/${enc(p['id']!)}/articles/${enc(p['n']!)}/raw`));
  http.on('GET', '/console/tickets/:id/attachments/:att', download((p) => `/v1/tickets/${enc(p['id']!)}/attachments/${enc(p['att']!)}`));

  // The sanitised HTML of one article, for the sandboxed frame of the ticket page: no script runs
  // (sandbox without allow-scripts, and this answer's own CSP), nothing is fetched from anywhere.
  http.on('GET', '/console/tickets/:id/articles/:n/html', async (req, res, params, url) => {
    const c = await context(req, res, params, url);
    if (!c) return;
    const r = await c.api.get<{ articles: { no: number; html: string | null }[] }>(`/v1/tickets/${enc(params['id']!)}`);
    const a = r.status === 200 ? r.body.articles.find((x) => String(x.no) === params['n']) : undefined;
    if (!a || a.html === null) return sendHtml(res, 404, html`<p>${c.t('Not found.')}</p>`);
    const text = `<!doctype html><html><head><meta charset="utf-8"></head><body>${a.html}</body></html>`;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(text), 'content-security-policy': MAIL_FRAME_CSP, 'x-frame-options': 'SAMEORIGIN', ...SECURITY_HEADERS });
    res.end(text);
  });

  http.on(
    'POST',
    '/console/mailboxes/:id/resume',
    action(async (c, form) => {
      const r = await c.api.post(`/v1/mailboxes/${enc(c.params['id']!)}/resume`);
      return { ok: r.status === 200, text: r.status === 200 ? `${c.params['id']}: ${c.t('Resumed.')}` : apiError(r.body, r.status), to: back(form, '/console/mailboxes') };
    }),
  );
  for (const verb of ['approve', 'reject'] as const) {
    http.on(
      'POST',
      `/console/tickets/:id/${verb}`,
      action(async (c, form) => {
        const r = await c.api.post(`/v1/tickets/${enc(c.params['id']!)}/${verb}`, {});
        return { ok: r.status === 200, text: r.status === 200 ? `${c.params['id']}: ${c.t(verb === 'approve' ? 'Approved.' : 'Rejected.')}` : apiError(r.body, r.status), to: back(form, '/console/approvals') };
      }),
    );
  }
  http.on(
    'POST',
    '/console/webhooks/:id/replay',
    action(async (c, form) => {
      const delivery = form.get('delivery');
      const r = await c.api.post(`/v1/webhooks/${enc(c.params['id']!)}/replay`, delivery ? { delivery } : {});
      return { ok: r.status === 200, text: r.status === 200 ? `${c.t('Replayed')}: ${String(r.body.replayed)}` : apiError(r.body, r.status), to: '/console/webhooks' };
    }),
  );
  return sessions;
}
