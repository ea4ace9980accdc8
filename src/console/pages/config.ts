// Configuration, read-only (it lives in Git): the running config's hash, files and last reload with
// its problems (GET /v1/status: files and problems for admin tokens only, as there), and the
// `mailroom explain` view of the outbound decision for a company / contract / workflow, or of a
// mailbox. A company token explains only its companies and mailboxes, without file locations.
import { companiesOf } from '../../outbound/notify.js';
import { explainMailbox, explainOutbound, type Explanation } from '../../config/explain.js';
import { canSee } from '../../http/auth.js';
import { own } from '../../config/id-map.js';
import { apiError, isAdmin, type Page, type PageContext, when } from '../context.js';
import { html, table } from '../html.js';

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

function explanation(c: PageContext): { e: Explanation | null; error: string | null } {
  const snap = c.d.snapshot;
  const q = c.url.searchParams;
  const get = (k: string) => {
    const v = (q.get(k) ?? '').trim();
    return v && ID.test(v) ? v : undefined;
  };
  const company = get('company');
  const mailbox = get('mailbox');
  if (!snap || (!company && !mailbox && !get('contract') && !get('workflow'))) return { e: null, error: null };
  const notFound = { e: null, error: c.t('Not found.') };
  if (mailbox) {
    if (!own(snap.mailboxes, mailbox) || !(isAdmin(c) || companiesOf(snap, mailbox).some((x) => canSee(c.who, x)))) return notFound;
    return { e: explainMailbox(snap, mailbox), error: null };
  }
  if (!isAdmin(c) && (!company || !canSee(c.who, company))) return notFound;
  if (company && !own(snap.companies, company)) return notFound;
  const kind = q.get('kind') === 'system' ? 'system' : 'user';
  const contract = get('contract');
  const workflow = get('workflow');
  return { e: explainOutbound(snap, { ...(company && { company }), ...(contract && { contract }), ...(workflow && { workflow }), kind }), error: null };
}

export async function configPage(c: PageContext): Promise<Page> {
  const { t } = c;
  const r = await c.api.get<{ config: { hash: string; files?: string[]; lastReload: { status: string; trigger: string; at: string; hash: string | null; problems?: string[]; error?: string } | null; restartRequired?: string[] } }>('/v1/status');
  if (r.status !== 200) return { title: t('Configuration'), active: 'config', body: html`<p class="flash error">${apiError(r.body, r.status)}</p>`, status: r.status };
  const cfg = r.body.config;
  const lr = cfg.lastReload;
  const q = c.url.searchParams;
  const { e, error } = explanation(c);
  const admin = isAdmin(c);
  const body = html`<h2>${t('Running configuration')}</h2>
<p>hash <code>${cfg.hash}</code></p>
${cfg.files ? html`<p>${t('Files')}:</p><ul>${cfg.files.map((f) => html`<li><code>${f}</code></li>`)}</ul>` : ''}
${lr ? html`<p>${t('Last reload')}: <strong class="${lr.status === 'applied' || lr.status === 'unchanged' ? '' : 'bad'}">${lr.status}</strong> (${lr.trigger}) ${when(lr.at)}${lr.error ? html` — <span class="bad">${lr.error}</span>` : ''}</p>` : ''}
${lr?.problems?.length ? html`<p>${t('Problems')}:</p><ul>${lr.problems.map((p) => html`<li class="bad"><code>${p}</code></li>`)}</ul>` : ''}
${cfg.restartRequired?.length ? html`<p class="warn">restart required: ${cfg.restartRequired.join(', ')}</p>` : ''}
<h2>${t('Explain')}</h2>
<form class="filters" method="get" action="/console/config">
  <label>${t('Company')} <input name="company" value="${q.get('company') ?? ''}" size="12"></label>
  <label>${t('Contract')} <input name="contract" value="${q.get('contract') ?? ''}" size="12"></label>
  <label>${t('Workflow')} <input name="workflow" value="${q.get('workflow') ?? ''}" size="12"></label>
  <label>kind <select name="kind"><option${q.get('kind') !== 'system' ? html` selected` : ''}>user</option><option${q.get('kind') === 'system' ? html` selected` : ''}>system</option></select></label>
  <label>${t('Mailbox')} <input name="mailbox" value="${q.get('mailbox') ?? ''}" size="12"></label>
  <button type="submit">${t('Explain')}</button>
</form>
${error ? html`<p class="flash error">${error}</p>` : ''}
${e ? html`<h3>${e.title}</h3><p><strong>${e.result}</strong></p>${e.trail.length ? html`<ol>${e.trail.map((s) => html`<li>${s}</li>`)}</ol>` : ''}${table(admin ? ['field', 'value', 'layer', 'at'] : ['field', 'value', 'layer'], e.fields.map((f) => (admin ? [f.field, f.value, f.layer, f.at ?? '–'] : [f.field, f.value, f.layer])))}` : ''}`;
  return { title: t('Configuration'), active: 'config', body };
}
