// The approval queue: held tickets per company (GET /v1/tickets?status=held), each with why it was
// held (its articles' held:<cause> flags: route, mailbox, sender-rate, reply-to-rejected) and Approve / Reject buttons
// (POST /v1/tickets/{id}/approve | reject). The ticket page shows the message itself.
import { apiError, enc, type Page, type PageContext, when } from '../context.js';
import { html, postForm, table } from '../html.js';

const REASONS: Record<string, string> = { route: 'a route holds it', mailbox: 'mailbox hold', 'sender-rate': 'sender over the hourly cap', 'reply-to-rejected': 'a reply reopened it after a rejection' };

export function heldReasons(flags: string[]): string[] {
  return [...new Set(flags.filter((f) => f.startsWith('held:')).map((f) => f.slice(5)))].map((r) => REASONS[r] ?? r);
}

export async function approvalsPage(c: PageContext): Promise<Page> {
  const { t } = c;
  const list = await c.api.get<{ items: { id: string; company: string; subject: string; from: { address: string } | null; createdAt: string }[] }>('/v1/tickets?status=held&order=asc&limit=100');
  if (list.status !== 200) return { title: t('Approvals'), active: 'approvals', body: html`<p class="flash error">${apiError(list.body, list.status)}</p>`, status: list.status };
  const items = list.body.items;
  // The reason is in the articles' flags: one read per held ticket (a queue is short).
  const details = await Promise.all(items.slice(0, 100).map((x) => c.api.get<{ articles: { flags: string[] }[] }>(`/v1/tickets/${enc(x.id)}`)));
  const byCompany = new Map<string, typeof items>();
  for (const x of items) byCompany.set(x.company, [...(byCompany.get(x.company) ?? []), x]);
  const sections = [...byCompany.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([company, tickets]) => {
      const rows = tickets.map((x) => {
        const d = details[items.indexOf(x)];
        const reasons = d?.status === 200 ? heldReasons(d.body.articles.flatMap((a) => a.flags)) : [];
        const back = { back: '/console/approvals' };
        return [
          html`<a href="/console/tickets/${enc(x.id)}">${x.id}</a>`,
          x.subject,
          x.from?.address ?? '',
          reasons.join('; ') || '–',
          when(x.createdAt),
          html`${postForm(`/console/tickets/${enc(x.id)}/approve`, c.session.csrf, t('Approve'), { fields: back })} ${postForm(`/console/tickets/${enc(x.id)}/reject`, c.session.csrf, t('Reject'), { fields: back, cls: 'danger', confirm: t('Are you sure?') })}`,
        ];
      });
      return html`<h2>${company}</h2>${table(['#', t('Subject'), t('From'), t('Reason'), t('Created'), ''], rows)}`;
    });
  return { title: t('Approvals'), active: 'approvals', body: sections.length ? html`${sections}` : html`<p>${t('Nothing is waiting for approval.')}</p>` };
}
