// The console's pure parts: sessions expire (idle and absolute), CSRF tokens compare exactly, the
// cookie carries HttpOnly / SameSite=Strict (Secure when asked), HTML is escaped, language picking,
// and the chart arithmetic.
import { describe, expect, it } from 'vitest';
import type { IncomingMessage } from 'node:http';
import { barChart, deltas } from '../../src/console/charts.js';
import { crossOrigin } from '../../src/console/index.js';
import { esc, html, raw } from '../../src/console/html.js';
import { pickLang, translator } from '../../src/console/i18n.js';
import { csrfMatches, IDLE_MS, MAX_AGE_MS, parseCookies, sessionCookie, Sessions } from '../../src/console/session.js';

describe('console sessions', () => {
  it('a session id is random and carries no token; it expires when idle and after its maximum age', () => {
    let now = 1_000_000;
    const s = new Sessions(() => now);
    const a = s.create('secret-token-0123456789', 'ops');
    expect(a.id).not.toContain('secret');
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(s.get(a.id)).toBe(a);
    now += IDLE_MS + 1;
    expect(s.get(a.id)).toBeNull();
    const b = s.create('t', 'ops');
    for (let i = 0; i < 30; i++) {
      now += IDLE_MS - 1;
      if (now - b.createdAt > MAX_AGE_MS) break;
      expect(s.get(b.id)).toBe(b);
    }
    expect(s.get(b.id)).toBeNull();
    expect(s.get(undefined)).toBeNull();
    expect(s.get('nope')).toBeNull();
  });

  it('CSRF: only the exact token of the session', () => {
    const s = new Sessions().create('t', 'ops');
    expect(csrfMatches(s, s.csrf)).toBe(true);
    expect(csrfMatches(s, s.csrf.slice(1))).toBe(false);
    expect(csrfMatches(s, '')).toBe(false);
    expect(csrfMatches(s, null)).toBe(false);
  });

  it('the cookie is HttpOnly, SameSite=Strict, scoped to /console; Secure behind https', () => {
    expect(sessionCookie('abc', false)).toBe('mailroom_console=abc; Path=/console; HttpOnly; SameSite=Strict; Max-Age=43200');
    expect(sessionCookie('abc', true)).toMatch(/; Secure$/);
    expect(parseCookies('a=1; mailroom_console=xyz; b=2')['mailroom_console']).toBe('xyz');
    expect(parseCookies(undefined)).toEqual({});
  });
});

describe('console HTML and words', () => {
  it('escapes every interpolated value, but not built HTML', () => {
    expect(esc(`<script>"'&`)).toBe('&lt;script&gt;&quot;&#39;&amp;');
    const evil = '<img src=x onerror=alert(1)>';
    expect(html`<td>${evil}</td>`.text).toBe('<td>&lt;img src=x onerror=alert(1)&gt;</td>');
    expect(html`<td title="${'" onmouseover="x'}">${[raw('<b>ok</b>'), '<i>']}</td>`.text).toBe('<td title="&quot; onmouseover=&quot;x"><b>ok</b>&lt;i&gt;</td>');
  });

  it('Portuguese from the cookie or Accept-Language, English otherwise', () => {
    expect(pickLang(undefined, 'pt-BR,pt;q=0.9,en;q=0.8')).toBe('pt');
    expect(pickLang('en', 'pt-BR')).toBe('en');
    expect(pickLang(undefined, 'de-DE')).toBe('en');
    expect(translator('pt')('Approve')).toBe('Aprovar');
    expect(translator('en')('Approve')).toBe('Approve');
  });

  it('charts: per-minute increases of counters (a reset counts from zero), drawn without inline style', () => {
    expect(deltas([0, 2, 5, 5, 1])).toEqual([2, 3, 0, 1]);
    const svg = barChart('Ingested', [1, 0, 3]).text;
    expect(svg).toContain('aria-label="Ingested: 4"');
    expect(svg).not.toContain('style=');
  });
});

describe('console same-origin check', () => {
  const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
  it('accepts this listener, the proxy\'s public host and server.publicUrl; refuses other and opaque origins', () => {
    expect(crossOrigin(req({ host: '127.0.0.1:9465' }), null)).toBe(false); // no Origin: not a browser form
    expect(crossOrigin(req({ host: '127.0.0.1:9465', origin: 'http://127.0.0.1:9465' }), null)).toBe(false);
    expect(crossOrigin(req({ host: '127.0.0.1:9465', origin: 'https://mailroom.example.com', 'x-forwarded-host': 'mailroom.example.com' }), null)).toBe(false);
    expect(crossOrigin(req({ host: '127.0.0.1:9465', origin: 'https://mailroom.example.com' }), 'https://mailroom.example.com/')).toBe(false);
    expect(crossOrigin(req({ host: '127.0.0.1:9465', origin: 'https://evil.example' }), 'https://mailroom.example.com/')).toBe(true);
    expect(crossOrigin(req({ host: '127.0.0.1:9465', origin: 'null' }), null)).toBe(true);
  });
});
