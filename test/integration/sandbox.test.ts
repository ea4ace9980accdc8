// `npm run sandbox` works end to end: its main() starts Dovecot with the seeded mailboxes, renders
// config/sandbox/mailroom.yaml.tmpl, runs the daemon on it, and tickets arrive (seeded mail over
// IMAPS + IDLE and POP3 + STLS, then a periodically appended message); stop() shuts it all down.
import { ticketStoreOf } from '../support/store-of.js';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { listConfigFiles } from '../../src/config/sources.js';
import { main, renderTemplate, TEMPLATE, type Sandbox } from '../../scripts/sandbox.js';
import { waitFor } from '../support/daemon-config.js';

let sandbox: Sandbox | null = null;
let dir = '';
afterAll(async () => {
  await sandbox?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('the sandbox template is not part of the example config that `npm start` loads', async () => {
  const files = await listConfigFiles(path.join(path.dirname(TEMPLATE), '..'));
  expect(files.filter((f) => f.includes(`${path.sep}sandbox${path.sep}`))).toEqual([]);
  expect(() => renderTemplate('port: @NOPE@', {})).toThrow(/no value for @NOPE@/);
});

it('runs Dovecot + daemon on the rendered config, tickets arrive, and it stops cleanly', async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mailroom-sandbox-'));
  const lines: string[] = [];
  sandbox = await main({ dir, appendEveryMs: 1500, listen: '127.0.0.1:0', logger: createLogger('warn'), print: (l) => lines.push(l) });
  const store = ticketStoreOf(sandbox.daemon);

  // The rendered config has every placeholder filled in.
  const rendered = await readFile(sandbox.configFile, 'utf8');
  expect(rendered).not.toMatch(/@[A-Z0-9_]+@/);
  expect(rendered).toContain(`port: ${sandbox.dovecot.ports.imaps}`);

  // 12 seeded messages: 9 over IMAP (one a reply threaded onto the first ticket), 3 over POP3.
  await waitFor(() => store.stats().articles >= 12, 20_000, 'the seeded messages');
  const page = store.listTickets({ companies: '*', limit: 100 });
  const bySubject = (s: string) => page.items.find((t) => t.subject === s);
  expect(bySubject('Não consigo acessar o sistema')?.articleCount).toBe(2);
  expect(bySubject('Erro ao emitir nota fiscal')).toMatchObject({ type: 'billing', group: 'financeiro', priority: 'high' });
  expect(bySubject('Segunda via do boleto – vencimento 05/12')).toMatchObject({ company: 'demo', group: 'financeiro' });
  const nf = await store.getTicket(bySubject('Erro ao emitir nota fiscal')!.id);
  expect(nf!.articles[0]!.attachments.map((a) => a.filename)).toEqual(['nota-fiscal-4711.pdf']);

  // The periodic appender: a new message becomes a ticket (IDLE).
  const before = store.stats().tickets;
  await waitFor(() => store.stats().tickets > before, 15_000, 'a ticket from an appended message');
  expect(lines.some((l) => l.startsWith('sandbox: appended'))).toBe(true);
  // The sandbox prints new tickets on its own 500 ms tick: wait for that line rather than race it.
  await waitFor(() => lines.some((l) => /^ticket DEMO-\d{6}: /.test(l)), 5_000, 'the printed ticket line');

  // The HTTP side it advertises answers.
  const health = await fetch(`${sandbox.url}/-/ready`);
  expect(health.status).toBe(200);
  const tickets = await fetch(`${sandbox.url}/v1/tickets`, { headers: { authorization: `Bearer ${sandbox.apiToken}` } });
  expect(tickets.status).toBe(200);

  // Server-side actions: IMAP moved to Processados, POP3 deleted.
  await waitFor(async () => (await sandbox!.dovecot.list('financeiro')).length === 0, 10_000, 'POP3 maildrop emptied');
  expect((await sandbox.dovecot.list('suporte', 'Processados')).length).toBeGreaterThanOrEqual(9);

  await sandbox.stop();
  expect(sandbox.dovecot.running).toBe(false);
  await expect(fetch(`${sandbox.url}/-/healthy`)).rejects.toThrow();
  sandbox = null;
}, 60_000);
