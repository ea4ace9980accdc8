// `{{subject}}`, `{{from.address}}`, `{{header.X-Foo}}` ... templates that map mail fields onto
// ticket fields (pure). Unknown names render empty; values are never re-interpreted as templates.
import type { ParsedMessage } from './parsed-message.js';

export interface TemplateContext {
  mailbox: string;
  message: Pick<ParsedMessage, 'subject' | 'from' | 'to' | 'cc' | 'text' | 'headers' | 'messageId' | 'date'>;
  ticket?: { id?: string; company?: string; contract?: string | null };
}

/** All values of a header (name case-insensitive); own keys only, so `constructor` is not a header. */
export function headerValues(headers: Record<string, string[]>, name: string): string[] {
  const key = name.toLowerCase();
  const v = Object.hasOwn(headers, key) ? headers[key] : undefined;
  return Array.isArray(v) ? v : [];
}

export function lookup(ctx: TemplateContext, name: string): string {
  const m = ctx.message;
  const dot = name.indexOf('.');
  const head = dot < 0 ? name : name.slice(0, dot);
  const tail = dot < 0 ? '' : name.slice(dot + 1);
  // Names that take a part after the dot (from.name, header.X-Foo, ticket.id); every other name is
  // whole: `{{subject.length}}` or `{{from.phone}}` is unknown and renders empty like `{{nope}}`.
  if (head === 'header') return tail ? headerValues(m.headers, tail).join(', ') : '';
  if (head === 'ticket') {
    const v = tail && ctx.ticket && Object.hasOwn(ctx.ticket, tail) ? (ctx.ticket as Record<string, unknown>)[tail] : undefined;
    return v === undefined || v === null ? '' : String(v);
  }
  if (head === 'from') {
    if (tail === '' || tail === 'address') return m.from?.address ?? '';
    return tail === 'name' ? (m.from?.name ?? '') : '';
  }
  if (tail !== '') return '';
  switch (head) {
    case 'subject': return m.subject;
    case 'text': case 'body': return m.text;
    case 'mailbox': return ctx.mailbox;
    case 'messageId': return m.messageId ?? '';
    case 'date': return m.date ?? '';
    case 'to': return m.to.map((a) => a.address).join(', ');
    case 'cc': return m.cc.map((a) => a.address).join(', ');
    default: return '';
  }
}

export function renderTemplate(template: string, ctx: TemplateContext): string {
  return template.replace(/\{\{\s*([A-Za-z][\w.-]*)\s*\}\}/g, (_m, name: string) => lookup(ctx, name));
}
