// Routing rules (pure): ordered routes, every match applies its actions, `stop` ends evaluation.
// Patterns are case-insensitive substrings or /regex/flags; addresses match exactly or by @domain.
import { parseSize } from '../config/duration.js';
import { compilePattern } from '../config/pattern.js';
import type { Snapshot } from '../config/snapshot.js';
import type { Route } from '../config/types.generated.js';
import type { ParsedMessage } from './parsed-message.js';
import { isOpen } from './schedule.js';
import { headerValues, renderTemplate } from './template.js';

export type RoutableMessage = Pick<ParsedMessage, 'subject' | 'from' | 'to' | 'cc' | 'text' | 'headers' | 'attachments' | 'size' | 'messageId' | 'date'>;

export interface RouteOutcome {
  matched: string[];
  set: { company?: string; contract?: string; type?: string; group?: string; priority?: string; tags: string[] };
  fields: Record<string, string>;
  hold: boolean;
  drop: string | null;
  deliver: string[] | null;
}

/** How much text a route pattern sees: a regex may be polynomial in its input (the check rejects
 * the exponential ones), so a multi-megabyte body or header must not become minutes of matching
 * on the event loop every mailbox shares. Mail that says what it is about says it early. */
export const ROUTE_BODY_LIMIT = 64 * 1024;
export const ROUTE_HEADER_LIMIT = 8 * 1024;
const head = (limit: number) => (v: string) => (v.length > limit ? v.slice(0, limit) : v);
const bodyText = head(ROUTE_BODY_LIMIT);
const headerText = head(ROUTE_HEADER_LIMIT);

/** Compiled matchers per route object (routes are frozen in the snapshot; a reload brings new ones). */
const compiled = new WeakMap<Route, Map<string, (v: string) => boolean>>();

function matcher(pattern: string, address: boolean): (v: string) => boolean {
  if (address && !pattern.startsWith('/')) {
    const p = pattern.toLowerCase();
    if (p.startsWith('@')) return (v) => v.toLowerCase().endsWith(p) || v.toLowerCase().endsWith(`.${p.slice(1)}`);
    if (p.includes('@')) return (v) => v.toLowerCase() === p;
  }
  const c = compilePattern(pattern);
  return 'error' in c ? () => false : c.test;
}

function cachedMatcher(route: Route, field: string, pattern: string, address = false): (v: string) => boolean {
  let byRoute = compiled.get(route);
  if (!byRoute) compiled.set(route, (byRoute = new Map()));
  const k = `${field}\0${pattern}`;
  let m = byRoute.get(k);
  if (!m) byRoute.set(k, (m = matcher(pattern, address)));
  return m;
}

export function routeMatches(snap: Snapshot, route: Route, mailbox: string, msg: RoutableMessage, now: Date): boolean {
  const m = route.match ?? {};
  if (m.mailbox !== undefined && !(Array.isArray(m.mailbox) ? m.mailbox : [m.mailbox]).includes(mailbox)) return false;
  const addr = (field: 'from' | 'to' | 'cc', values: string[]) => {
    const p = m[field];
    return p === undefined || values.map(headerText).some(cachedMatcher(route, field, p, true));
  };
  if (!addr('from', msg.from ? [msg.from.address] : [])) return false;
  if (!addr('to', msg.to.map((a) => a.address))) return false;
  if (!addr('cc', msg.cc.map((a) => a.address))) return false;
  if (m.subject !== undefined && !cachedMatcher(route, 'subject', m.subject)(headerText(msg.subject))) return false;
  if (m.body !== undefined && !cachedMatcher(route, 'body', m.body)(bodyText(msg.text))) return false;
  for (const [name, p] of Object.entries(m.header ?? {})) {
    const values = headerValues(msg.headers, name);
    if (!values.length || !values.map(headerText).some(cachedMatcher(route, `h:${name}`, p))) return false;
  }
  if (m.hasAttachment !== undefined && msg.attachments.some((a) => !a.inline) !== m.hasAttachment) return false;
  if (m.size?.min !== undefined && msg.size < parseSize(m.size.min)) return false;
  if (m.size?.max !== undefined && msg.size > parseSize(m.size.max)) return false;
  if (m.during !== undefined) {
    const s = snap.schedules[m.during];
    if (!s || !isOpen(s, now)) return false;
  }
  if (m.outside !== undefined) {
    const s = snap.schedules[m.outside];
    if (!s || isOpen(s, now)) return false;
  }
  return true;
}

export function evaluateRoutes(snap: Snapshot, mailbox: string, msg: RoutableMessage, now: Date): RouteOutcome {
  const out: RouteOutcome = { matched: [], set: { tags: [] }, fields: {}, hold: false, drop: null, deliver: null };
  for (const route of snap.routes) {
    if (!routeMatches(snap, route, mailbox, msg, now)) continue;
    out.matched.push(route.name);
    const { tags, ...set } = route.set ?? {};
    Object.assign(out.set, set);
    if (tags) out.set.tags.push(...tags.filter((t) => !out.set.tags.includes(t)));
    for (const [k, tpl] of Object.entries(route.fields ?? {})) out.fields[k] = renderTemplate(tpl, { mailbox, message: msg });
    if (route.hold) out.hold = true;
    if (route.drop !== undefined) out.drop = route.drop;
    if (route.deliver) out.deliver = [...route.deliver];
    if (route.stop) break;
  }
  return out;
}
