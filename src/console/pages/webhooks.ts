// Webhooks and outbox: per webhook pending, held and dead deliveries with their last error, replay
// one or all (GET /v1/webhooks, POST /v1/webhooks/{id}/replay: admin tokens); and the outbound
// messages that are not done — queued, sending, retrying — or failed, with the reason, for the
// token's companies (the API has no list of messages: read from the outbox as GET /v1/messages/{id}
// reads one, through messageView, with the same scope rule).
import { canSee } from '../../http/auth.js';
import { messageView } from '../../http/message-routes.js';
import { apiError, enc, isAdmin, type Page, type PageContext, when } from '../context.js';
import { html, postForm, table } from '../html.js';

interface WebhookRow {
  webhook: string;
  configured: boolean;
  pending: number;
  deadLetters: number;
  held?: number;
  blocked?: number;
  dead?: { delivery: string; ticket: string; attempts: number; lastStatus: number | null; lastError: string | null; finishedAt: string | null }[];
}

const SHOWN = new Set(['queued', 'sending', 'retrying', 'failed']);

export function outboxRows(c: PageContext, limit = 200) {
  const entries = c.d.outbox ? [...c.d.outbox.store.entries()] : [];
  return entries
    .filter((e) => SHOWN.has(e.status) && (e.company === null ? isAdmin(c) : canSee(c.who, e.company)))
    .sort((a, b) => b.updatedAt.localeCompare(a.updatedAt))
    .slice(0, limit)
    .map(messageView);
}

export async function webhooksPage(c: PageContext): Promise<Page> {
  const { t } = c;
  let hooks = html`<p class="muted">${t('Only an admin token (companies ["*"]) sees webhooks.')}</p>`;
  if (isAdmin(c)) {
    const r = await c.api.get<{ webhooks: WebhookRow[] }>('/v1/webhooks');
    if (r.status !== 200) hooks = html`<p class="flash error">${apiError(r.body, r.status)}</p>`;
    else {
      const rows = r.body.webhooks.map((w) => [
        html`<strong>${w.webhook}</strong>${w.configured ? '' : html` <span class="muted">(not configured)</span>`}`,
        w.pending,
        w.held ?? 0,
        w.blocked ?? 0,
        html`<span class="${w.deadLetters ? 'bad' : ''}">${w.deadLetters}</span>`,
        w.deadLetters && w.configured ? postForm(`/console/webhooks/${enc(w.webhook)}/replay`, c.session.csrf, t('Replay all'), { confirm: t('Are you sure?') }) : '',
      ]);
      const dead = r.body.webhooks.flatMap((w) =>
        (w.dead ?? []).map((x) => [w.webhook, x.delivery, html`<a href="/console/tickets/${enc(x.ticket)}">${x.ticket}</a>`, x.attempts, x.lastStatus ?? '–', html`<span class="bad">${x.lastError ?? ''}</span>`, when(x.finishedAt), w.configured ? postForm(`/console/webhooks/${enc(w.webhook)}/replay`, c.session.csrf, t('Replay'), { fields: { delivery: x.delivery } }) : '']),
      );
      hooks = html`${table([t('Webhook'), t('Pending'), 'held', 'blocked', t('Dead letters'), ''], rows)}
${dead.length ? html`<h2>${t('Dead letters')}</h2>${table([t('Webhook'), 'delivery', '#', t('Attempts'), 'HTTP', t('Last error'), '', ''], dead)}` : ''}`;
    }
  }
  const messages = outboxRows(c).map((m) => [m.id, m.company ?? '–', m.mailbox, html`<span class="${m.status === 'failed' ? 'bad' : m.status === 'retrying' ? 'warn' : ''}">${m.status}</span>`, m.subject, m.attempts, when(m.nextAttemptAt), m.lastError ? html`<span class="bad">${m.lastError.message}</span>` : '–', when(m.updatedAt)]);
  const body = html`<h2>Webhooks</h2>${hooks}
<h2>${t('Outbound messages')}</h2>
${messages.length ? table(['id', t('Company'), t('Mailbox'), t('Status'), t('Subject'), t('Attempts'), 'next', t('Reason'), ''], messages) : html`<p class="muted">${t('none')}</p>`}`;
  return { title: t('Webhooks and outbox'), active: 'webhooks', body };
}
