// The ticket list (GET /v1/tickets, newest first) with search by company, contract, status and date,
// and one ticket (GET /v1/tickets/{id}): its articles with flags, text, the sanitised HTML in a
// sandboxed frame, attachments and the raw message as downloads; approve / reject while held.
import { apiError, enc, type Page, type PageContext, when } from '../context.js';
import { html, postForm, table } from '../html.js';
import { heldReasons } from './approvals.js';

const STATUSES = ['open', 'held', 'dropped', 'rejected'];

export async function ticketsPage(c: PageContext): Promise<Page> {
  const { t } = c;
  const q = c.url.searchParams;
  const f = { company: q.get('company') ?? '', contract: q.get('contract') ?? '', status: q.get('status') ?? '', since: q.get('since') ?? '', cursor: q.get('cursor') ?? '' };
  const query = new URLSearchParams({ order: 'desc', limit: '50' });
  if (f.company) query.set('company', f.company);
  if (f.contract) query.set('contract', f.contract);
  if (f.status) query.set('status', f.status);
  if (/^\d{4}-\d{2}-\d{2}$/.test(f.since)) query.set('since', `${f.since}T00:00:00Z`);
  if (f.cursor) query.set('cursor', f.cursor);
  const r = await c.api.get<{ items: { id: string; company: string; contract: string | null; status: string; subject: string; from: { address: string } | null; createdAt: string; articleCount: number }[]; next: string | null }>(`/v1/tickets?${query}`);
  const companies = c.who.companies === '*' ? Object.keys(c.d.snapshot?.companies ?? {}).sort() : [...c.who.companies].sort();
  const form = html`<form class="filters" method="get" action="/console/tickets">
  <label>${t('Company')} <select name="company"><option value="">${t('All companies')}</option>${companies.map((x) => html`<option${x === f.company ? html` selected` : ''}>${x}</option>`)}</select></label>
  <label>${t('Contract')} <input name="contract" value="${f.contract}" size="12"></label>
  <label>${t('Status')} <select name="status"><option value="">–</option>${STATUSES.map((s) => html`<option${s === f.status ? html` selected` : ''}>${s}</option>`)}</select></label>
  <label>${t('Since')} <input type="date" name="since" value="${f.since}"></label>
  <button type="submit">${t('Search')}</button>
</form>`;
  if (r.status !== 200) return { title: t('Tickets'), active: 'tickets', body: html`${form}<p class="flash error">${apiError(r.body, r.status)}</p>`, status: r.status === 400 ? 400 : r.status };
  const rows = r.body.items.map((x) => [html`<a href="/console/tickets/${enc(x.id)}">${x.id}</a>`, x.company, x.contract ?? '–', x.status, x.subject, x.from?.address ?? '', x.articleCount, when(x.createdAt)]);
  const next = r.body.next ? new URLSearchParams({ ...Object.fromEntries(Object.entries(f).filter(([, v]) => v)), cursor: r.body.next }) : null;
  const body = html`${form}${rows.length ? table(['#', t('Company'), t('Contract'), t('Status'), t('Subject'), t('From'), t('Articles'), t('Created')], rows) : html`<p>${t('No tickets.')}</p>`}
${next ? html`<p><a href="/console/tickets?${next.toString()}" rel="next">${t('Next page')} →</a></p>` : ''}`;
  return { title: t('Tickets'), active: 'tickets', body };
}

interface ArticleView {
  no: number;
  subject: string;
  from: { name: string; address: string } | null;
  to: { address: string }[];
  receivedAt: string;
  mailbox: string;
  text: string;
  html: string | null;
  flags: string[];
  attachments: { id: string; filename: string; contentType: string; size: number }[];
  rawUrl: string | null;
}

export async function ticketPage(c: PageContext): Promise<Page> {
  const { t } = c;
  const id = c.params['id'] ?? '';
  const r = await c.api.get<{ id: string; company: string; contract: string | null; status: string; subject: string; tags: string[]; createdAt: string; articles: ArticleView[] }>(`/v1/tickets/${enc(id)}`);
  if (r.status !== 200) return { title: r.status === 404 ? t('Not found.') : t('Error'), active: 'tickets', body: html`<p class="flash error">${apiError(r.body, r.status)}</p>`, status: r.status };
  const x = r.body;
  const base = `/console/tickets/${enc(x.id)}`;
  const actions = x.status === 'held' ? html`<p>${postForm(`${base}/approve`, c.session.csrf, t('Approve'), { fields: { back: base } })} ${postForm(`${base}/reject`, c.session.csrf, t('Reject'), { fields: { back: base }, cls: 'danger', confirm: t('Are you sure?') })}</p>` : '';
  const reasons = x.status === 'held' ? heldReasons(x.articles.flatMap((a) => a.flags)) : [];
  const articles = x.articles.map(
    (a) => html`<section aria-labelledby="article-${a.no}">
<h2 id="article-${a.no}">#${a.no} · ${a.subject}</h2>
<p>${t('From')}: ${a.from ? `${a.from.name} <${a.from.address}>` : '–'} · ${when(a.receivedAt)} · ${t('Mailbox')}: ${a.mailbox}</p>
<p>${t('Flags')}: ${a.flags.length ? a.flags.join(', ') : t('none')}${a.rawUrl ? html` · <a href="${base}/articles/${a.no}/raw" download>${t('Raw message')}</a>` : ''}</p>
${a.attachments.length ? html`<p>${t('Attachments')}: ${a.attachments.map((att) => html`<a href="${base}/attachments/${enc(att.id)}" download>${att.filename}</a> <span class="muted">(${att.contentType}, ${att.size} B)</span> `)}</p>` : ''}
${a.html !== null ? html`<h3>${t('Message (sanitised HTML)')}</h3><iframe class="mail" sandbox src="${base}/articles/${a.no}/html" title="${t('Message (sanitised HTML)')} #${a.no}" referrerpolicy="no-referrer"></iframe>` : ''}
<h3>${t('Text')}</h3><pre class="text">${a.text}</pre>
</section>`,
  );
  const body = html`<p>${t('Company')}: <strong>${x.company}</strong> · ${t('Contract')}: ${x.contract ?? '–'} · ${t('Status')}: <strong class="state-${x.status}">${x.status}</strong>${reasons.length ? html` (${reasons.join('; ')})` : ''} · ${t('Created')}: ${when(x.createdAt)}${x.tags.length ? ` · ${x.tags.join(', ')}` : ''}</p>
${actions}${articles}`;
  return { title: `${x.id} · ${x.subject}`, active: 'tickets', body };
}
