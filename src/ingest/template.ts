// `{{subject}}`, `{{from.address}}`, `{{header.X-Foo}}` ... templates that map mail fields onto
// ticket fields (pure). Unknown names render empty; values are never re-interpreted as templates.
import type { ParsedMessage } from './parsed-message.js';

export interface TemplateContext {
  mailbox: string;
  message: Pick<ParsedMessage, 'subject' | 'from' | 'to' | 'cc' | 'text' | 'headers' | 'messageId' | 'date'>;
  ticket?: { id?: string; company?: string; contract?: string | null };
}

export function lookup(ctx: TemplateContext, name: string): string {
  const m = ctx.message;
  const [head, ...rest] = name.split('.');
  const tail = rest.join('.');
  switch (head) {
    case 'subject': return m.subject;
    case 'text': case 'body': return m.text;
    case 'mailbox': return ctx.mailbox;
    case 'messageId': return m.messageId ?? '';
    case 'date': return m.date ?? '';
    case 'from': return tail === 'name' ? (m.from?.name ?? '') : (m.from?.address ?? '');
    case 'to': return m.to.map((a) => a.address).join(', ');
    case 'cc': return m.cc.map((a) => a.address).join(', ');
    case 'header': return (m.headers[tail.toLowerCase()] ?? []).join(', ');
    case 'ticket': return String((ctx.ticket as Record<string, unknown> | undefined)?.[tail] ?? '');
    default: return '';
  }
}

export function renderTemplate(template: string, ctx: TemplateContext): string {
  return template.replace(/\{\{\s*([A-Za-z][\w.-]*)\s*\}\}/g, (_m, name: string) => lookup(ctx, name));
}
