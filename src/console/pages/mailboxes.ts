// The mailboxes page: every mailbox the token may see (from GET /v1/status), with its state, last
// success, last error and hint, backlog, checkpoint and credential warnings; a company filter; a
// Resume button on suspended ones (POST /v1/mailboxes/{id}/resume). Charts of the last hour on top.
import { apiError, enc, type Page, type PageContext, when } from '../context.js';
import { html, postForm, table } from '../html.js';
import { chartsSection } from '../charts.js';

interface MailboxRow {
  mailbox: string;
  companies: string[];
  protocol: string | null;
  state: string;
  lastSuccess?: string | null;
  lastError?: { message: string; hint?: string; at?: string } | null;
  backlog?: number | null;
  checkpoint?: Record<string, unknown> | null;
  suspendedReason?: string | null;
  credentials?: { state: string; message: string } | null;
}

function checkpoint(cp: Record<string, unknown> | null | undefined): string {
  if (!cp) return '–';
  if ('uidls' in cp) return `${String(cp['uidls'])} UIDLs`;
  return `${String(cp['folder'] ?? '')} uid ${String(cp['uid'] ?? '')} (validity ${String(cp['uidValidity'] ?? '')})`;
}

export async function mailboxesPage(c: PageContext): Promise<Page> {
  const { t } = c;
  const r = await c.api.get<{ mailboxes: MailboxRow[] }>('/v1/status');
  if (r.status !== 200) return { title: t('Mailboxes'), active: 'mailboxes', body: html`<p class="flash error">${apiError(r.body, r.status)}</p>`, status: r.status };
  const company = c.url.searchParams.get('company') ?? '';
  const all = r.body.mailboxes;
  const companies = [...new Set(all.flatMap((m) => m.companies))].sort();
  const shown = company ? all.filter((m) => m.companies.includes(company)) : all;
  const rows = shown.map((m) => [
    html`<strong>${m.mailbox}</strong> <span class="muted">${m.protocol ?? ''}</span>`,
    m.companies.join(', '),
    html`<span class="state-${m.state}">${m.state}</span>${m.suspendedReason ? html`<span class="hint">${m.suspendedReason}</span>` : ''}`,
    when(m.lastSuccess),
    m.lastError ? html`<span class="bad">${m.lastError.message}</span>${m.lastError.hint ? html`<span class="hint">${m.lastError.hint}</span>` : ''}` : html`<span class="muted">–</span>`,
    m.backlog ?? '–',
    checkpoint(m.checkpoint),
    m.credentials ? html`<span class="${m.credentials.state === 'ok' ? 'muted' : 'warn'}">${m.credentials.message}</span>` : html`<span class="muted">–</span>`,
    m.state === 'suspended' ? postForm(`/console/mailboxes/${enc(m.mailbox)}/resume`, c.session.csrf, t('Resume'), { fields: { back: c.url.pathname + c.url.search } }) : '',
  ]);
  const body = html`
<form class="filters" method="get" action="/console/mailboxes">
  <label>${t('Company')} <select name="company" data-autosubmit><option value="">${t('All companies')}</option>${companies.map((x) => html`<option${x === company ? html` selected` : ''}>${x}</option>`)}</select></label>
  <button type="submit">${t('Filter')}</button>
</form>
${table([t('Mailbox'), t('Companies'), t('State'), t('Last success'), t('Last error'), t('Backlog'), t('Checkpoint'), t('Credentials'), ''], rows)}
${await chartsSection(c)}`;
  return { title: t('Mailboxes'), active: 'mailboxes', body };
}
