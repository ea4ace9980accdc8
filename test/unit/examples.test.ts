// examples/<name>/: one complete GitOps layout per kind of platform. Each must pass
// `mailroom check --strict --skip-env`, and its mail/*.eml must route as the example says.
// They live outside config/ because a config directory is read recursively: `npm start` would load them.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/main.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const EXAMPLES = readdirSync(join(ROOT, 'examples'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();

beforeAll(() => process.chdir(ROOT));

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (s) => out.push(s), (s) => err.push(s));
  return { code, out, err, text: out.join('\n') };
}

async function route(example: string, mailbox: string, at: string, mail: string) {
  const r = await run('route', '--config', `examples/${example}/`, '--mailbox', mailbox, '--at', at, '--format', 'json', `examples/${example}/mail/${mail}`);
  expect(r.err).toEqual([]);
  expect(r.code).toBe(0);
  return (JSON.parse(r.text) as Record<string, unknown>[])[0]!;
}

const MON_10 = '2026-05-04T10:00:00-03:00';

describe('examples/', () => {
  it('has the five seed scenarios', () => {
    expect(EXAMPLES).toEqual(['e-invoicing', 'itsm', 'omnichannel', 'platform-smtp', 'service-desk']);
  });

  it.each(EXAMPLES)('%s passes check --strict --skip-env without a warning', async (name) => {
    const r = await run('check', '--config', `examples/${name}/`, '--strict', '--skip-env');
    expect(r.code).toBe(0);
    expect(r.out).toHaveLength(1);
    expect(r.out[0]).toMatch(new RegExp(`^examples/${name}/: ok — \\d+ file\\(s\\), hash [0-9a-f]{12}$`));
  });

  it('config/ (what npm start loads) does not pick up the examples', async () => {
    const r = await run('check', '--config', 'config/');
    expect(r.out[0]).toMatch(/^config\/: ok — 2 file\(s\)/);
  });

  it('service-desk: the contract mailbox decides company, contract and ticket defaults; urgent mail is high priority', async () => {
    expect(await route('service-desk', 'padaria-desk', MON_10, 'printer.eml')).toMatchObject({ routes: [], ticket: { company: 'padaria', contract: 'padaria-2026', prefix: 'PAO', status: 'open', type: 'incident', group: 'n1', priority: 'normal' } });
    expect(await route('service-desk', 'padaria-desk', MON_10, 'urgent.eml')).toMatchObject({ routes: ['urgent'], ticket: { company: 'padaria', priority: 'high', tags: ['urgent'] } });
    expect(await route('service-desk', 'metalurgica-manutencao', MON_10, 'press.eml')).toMatchObject({ ticket: { company: 'metalurgica', contract: 'manutencao', prefix: 'MET', type: 'maintenance', group: 'campo' } });
  });

  it('service-desk: workflows send through the contract mailbox, a named mailbox or the global default', async () => {
    const via = async (workflow: string) => (await run('explain', '--config', 'examples/service-desk/', '--company', 'padaria', '--contract', 'padaria-2026', '--workflow', workflow)).text;
    expect(await via('ticket-reply')).toContain('= sends through mailbox padaria-desk');
    expect(await via('satisfaction-survey')).toContain('= sends through mailbox desk-central');
    expect(await via('password-reset')).toContain('= sends through the global default server');
  });

  it('platform-smtp: a shared inbox attributes mail by sender domain, the rest to the fallback company', async () => {
    expect(await route('platform-smtp', 'platform-support', MON_10, 'alfa.eml')).toMatchObject({ ticket: { company: 'alfa', contract: 'suporte', group: 'n1' } });
    expect(await route('platform-smtp', 'platform-support', MON_10, 'gama.eml')).toMatchObject({ ticket: { company: 'gama', contract: 'suporte', group: 'gama-n1', priority: 'high' } });
    const unknown = await route('platform-smtp', 'platform-support', MON_10, 'unknown.eml');
    expect(unknown).toMatchObject({ ticket: { company: 'alfa' } });
    expect(unknown.reasons).toContain('no company claims the sender: fallback alfa');
  });

  it('platform-smtp: beta overrides only its sender name; password resets use the system sender', async () => {
    const beta = (await run('explain', '--config', 'examples/platform-smtp/', '--company', 'beta')).text;
    expect(beta).toMatch(/from\.name\s+Beta Serviços\s+company beta/);
    expect(beta).toMatch(/host\s+smtp\.platform\.example\s+global default/);
    const reset = (await run('explain', '--config', 'examples/platform-smtp/', '--company', 'gama', '--workflow', 'password-reset')).text;
    expect(reset).toMatch(/from\.address\s+noreply@platform\.example\s+global default/);
  });

  it('e-invoicing: invoices go to the importer webhook; the partner mailbox tells its clients apart', async () => {
    expect(await route('e-invoicing', 'matriz-nfe-entrada', MON_10, 'supplier-invoice.eml')).toMatchObject({ routes: ['invoices'], deliver: ['store', 'webhook:invoice-processor'], ticket: { company: 'sol-matriz', contract: 'nfe', type: 'invoice', group: 'fiscal', tags: ['nfe'] } });
    expect(await route('e-invoicing', 'contabil-parceiro', MON_10, 'partner-client-invoice.eml')).toMatchObject({ routes: ['invoices'], ticket: { company: 'padaria-central', contract: 'nfe', type: 'invoice' } });
    expect(await route('e-invoicing', 'contabil-parceiro', MON_10, 'partner-unknown-question.eml')).toMatchObject({ routes: ['no-attachment'], deliver: ['store'], ticket: { company: 'contabil', contract: 'triagem', type: 'question', group: 'atendimento' } });
  });

  it('e-invoicing: a branch sends through the headquarters mailbox it inherits', async () => {
    const rj = (await run('explain', '--config', 'examples/e-invoicing/', '--company', 'sol-filial-rj')).text;
    expect(rj).toContain('company sol-matriz (inherited by sol-filial-rj) → mailbox matriz-nfe-envio');
    expect(rj).toMatch(/from\.name\s+Grupo Sol Rio\s+company sol-filial-rj/);
  });

  it('omnichannel: business hours, supervisor approval by route and by mailbox, webhooks', async () => {
    expect(await route('omnichannel', 'sac', '2026-05-07T10:30:00-03:00', 'order.eml')).toMatchObject({ routes: ['to-omnichannel'], deliver: ['store', 'webhook:omnichannel'], ticket: { company: 'varejo', status: 'open', group: 'sac-n1' } });
    expect(await route('omnichannel', 'legado-pop', '2026-05-07T22:30:00-03:00', 'order.eml')).toMatchObject({ routes: ['after-hours', 'to-omnichannel'], ticket: { group: 'sac-plantao', tags: ['fora-do-horario'] } });
    expect(await route('omnichannel', 'sac', '2026-05-07T10:30:00-03:00', 'procon.eml')).toMatchObject({ routes: ['legal-threat'], ticket: { status: 'held', group: 'supervisao', priority: 'high' } });
    expect(await route('omnichannel', 'ouvidoria', '2026-05-07T18:30:00-03:00', 'ombudsman.eml')).toMatchObject({ routes: ['ombudsman-after-hours', 'ombudsman'], ticket: { status: 'held', type: 'complaint', group: 'ouvidoria', tags: ['fora-do-horario'] } });
  });

  it('itsm: ticket type by mailbox, mail fields mapped onto the suite fields', async () => {
    expect(await route('itsm', 'contoso-incidents', MON_10, 'incident.eml')).toMatchObject({
      ticket: { company: 'contoso', contract: 'incidents', type: 'incident', priority: 'p3', fields: { short_description: 'VPN drops every 10 minutes', caller_email: 'dana.park@contoso.example', caller_name: 'Dana Park', configuration_item: 'vpn-gw-02', source_mailbox: 'contoso-incidents' } },
      deliver: ['store', 'webhook:itsm'],
    });
    expect(await route('itsm', 'contoso-requests', MON_10, 'outage.eml')).toMatchObject({ routes: ['major-incident', 'itsm-fields'], ticket: { contract: 'requests', type: 'incident', group: 'major-incident', priority: 'p1' } });
    expect(await route('itsm', 'contoso-changes', MON_10, 'change.eml')).toMatchObject({ ticket: { contract: 'changes', type: 'change', group: 'cab', fields: { configuration_item: 'fw-edge-01' } } });
  });
});
