// Why this file exists: what a console page handler gets (the daemon, the operator's API client and
// scope, the language) and small formatting helpers shared by the pages.
import type { Principal } from '../http/auth.js';
import type { DaemonHost as Daemon } from '../http/host.js';
import type { ApiClient } from './api-client.js';
import { html, type Html, type PageFrame } from './html.js';
import type { Lang, T } from './i18n.js';
import type { Session } from './session.js';

export interface PageContext {
  d: Daemon;
  api: ApiClient;
  who: Principal;
  session: Session;
  url: URL;
  lang: Lang;
  t: T;
  params: Record<string, string>;
}

export interface Page {
  title: string;
  active?: PageFrame['active'];
  body: Html;
  status?: number;
}

export const isAdmin = (c: PageContext) => c.who.companies === '*';

/** A timestamp as "2026-12-07 03:20:25Z" (machine-readable in the title attribute), or a dash. */
export function when(iso: string | null | undefined): Html {
  if (!iso) return html`<span class="muted">–</span>`;
  const s = String(iso).replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  return html`<time datetime="${iso}">${s}</time>`;
}

export const enc = encodeURIComponent;

/** The error text of an API answer (never more than the API said). */
export function apiError(body: unknown, status: number): string {
  const e = (body as { error?: unknown } | null)?.error;
  return typeof e === 'string' ? e : `HTTP ${status}`;
}
