// The CLI as users and CI call it: `main(argv, out, err)` returns the exit code (0 ok, 1 invalid,
// 2 usage). check, explain and diff against the example config/ and the fixtures.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { diffSnapshots, formatChange } from '../../src/config/diff.js';
import { loadConfig } from '../../src/config/load.js';
import { main } from '../../src/main.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const F = 'test/fixtures/config';

beforeAll(() => process.chdir(ROOT)); // problems and explain print paths relative to the repo root
afterEach(() => vi.unstubAllEnvs());

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (s) => out.push(s), (s) => err.push(s));
  return { code, out, err, text: out.join('\n') };
}

const expectedLines = (dir: string) => readFileSync(join(dir, 'expected.txt'), 'utf8').split('\n').filter(Boolean);

function stubFixtureEnv(dir: string) {
  const file = join(dir, 'env.json');
  if (!existsSync(file)) return;
  for (const [k, v] of Object.entries(JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>)) vi.stubEnv(k, v);
}

describe('mailroom check', () => {
  it('exits 0 on the example config/', async () => {
    const r = await run('check', '--config', 'config/');
    expect(r.code).toBe(0);
    expect(r.out).toHaveLength(1);
    expect(r.out[0]).toMatch(/^config\/: ok — 2 file\(s\), hash [0-9a-f]{12}$/);
  });

  it.each(readdirSync(join(ROOT, F, 'broken'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort())('exits 1 on broken/%s and prints exactly its problems', async (name) => {
    const dir = `${F}/broken/${name}`;
    stubFixtureEnv(dir);
    const r = await run('check', '--config', dir);
    expect(r.code).toBe(1);
    const lines = expectedLines(dir);
    expect(r.out).toEqual([...lines, `${dir}: ${lines.length} error(s), 0 warning(s)`]);
  });

  it.each([['empty', ''], ['comment-only', '# emptied by mistake\n']])('exits 1 on a directory whose only file is %s, naming the file', async (_kind, text) => {
    const dir = mkdtempSync(join(tmpdir(), 'mailroom-check-'));
    const file = join(dir, 'mailroom.yaml');
    writeFileSync(file, text);
    const r = await run('check', '--config', dir);
    expect(r.code).toBe(1);
    expect(r.out).toEqual([
      `${file}:1:1: warning: ${file} is empty (or only comments): it sets nothing`,
      `${file}:1:1: error: no file sets version: 1 — is this the right directory?`,
      `${dir}: 1 error(s), 1 warning(s)`,
    ]);
  });

  it('warnings exit 0; --strict turns them into exit 1', async () => {
    for (const name of ['verify-certificate-false', 'inline-password']) {
      const dir = `${F}/warnings/${name}`;
      const lenient = await run('check', '--config', dir);
      expect(lenient.code).toBe(0);
      expect(lenient.out.slice(0, -1)).toEqual(expectedLines(dir));
      expect(lenient.out.at(-1)).toMatch(new RegExp(`^${dir}: ok \\(2 warning\\(s\\)\\) — 1 file\\(s\\), hash [0-9a-f]{12}$`));
      const strict = await run('check', '--config', dir, '--strict');
      expect(strict.code).toBe(1);
      expect(strict.out).toEqual([...expectedLines(dir), `${dir}: 0 error(s), 2 warning(s)`]);
    }
    expect((await run('check', '--config', 'config/', '--strict')).code).toBe(0);
  });

  it('--format json is parseable and carries every problem with its place', async () => {
    const ok = await run('check', '--config', 'config/', '--format', 'json');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.text)).toEqual({ ok: true, hash: expect.stringMatching(/^[0-9a-f]{64}$/), problems: [] });

    const dir = `${F}/broken/route-unknown-schedule`;
    const bad = await run('check', '--config', dir, '--format', 'json');
    expect(bad.code).toBe(1);
    const parsed = JSON.parse(bad.text) as { ok: boolean; problems: Record<string, unknown>[] };
    expect(parsed.ok).toBe(false);
    expect(parsed.problems).toEqual([
      { severity: 'error', message: 'schedule "office-hours" is not defined', path: 'routes.0.match.during', file: `${dir}/mailroom.yaml`, line: 7, col: 22 },
      { severity: 'error', message: 'schedule "weekend" is not defined', path: 'routes.1.match.outside', file: `${dir}/mailroom.yaml`, line: 10, col: 23 },
    ]);

    const strict = JSON.parse((await run('check', '--config', `${F}/warnings/inline-password`, '--format', 'json', '--strict')).text) as { ok: boolean; problems: unknown[] };
    expect(strict.ok).toBe(false);
    expect(strict.problems).toHaveLength(2);
  });

  it('--skip-env checks a config whose secrets are not in this environment', async () => {
    vi.stubEnv('LEGACY_POP_PASSWORD', undefined);
    vi.stubEnv('ACME_PORTAL_TOKEN', undefined);
    const spec = join(ROOT, 'test', 'fixtures', 'config', 'first-sketch');
    const skipped = await run('check', '--config', spec, '--skip-env');
    expect(skipped.code).toBe(0);
    const withEnv = await run('check', '--config', spec);
    expect(withEnv.code).toBe(1);
    expect(withEnv.out.filter((l) => l.includes(': error: '))).toEqual([
      expect.stringMatching(/companies\/acme\.yaml:\d+:\d+: error: environment variable LEGACY_POP_PASSWORD is not set/),
      expect.stringMatching(/mailroom\.yaml:\d+:\d+: error: environment variable ACME_PORTAL_TOKEN is not set/),
    ]);
  });

  it('a missing config path is an invalid config (exit 1), not a crash', async () => {
    const r = await run('check', '--config', `${F}/does-not-exist`);
    expect(r.code).toBe(1);
    expect(r.out[0]).toBe(`error: config path ${F}/does-not-exist does not exist`);
  });
});

describe('usage errors exit 2', () => {
  it.each([
    [[]],
    [['frobnicate', '--config', 'config/']],
    [['check']],
    [['check', '--config']],
    [['check', '--config', 'config/', '--format', 'xml']],
    [['check', '--config', 'config/', '--no-such-flag']],
    [['explain', '--config', 'config/']],
    [['explain', '--config', 'config/', '--company', 'acme', '--kind', 'robot']],
    [['diff', '--config', 'config/']],
  ])('%j', async (argv) => {
    const r = await run(...argv);
    expect(r.code).toBe(2);
    expect([...r.out, ...r.err].join('\n')).toContain('Usage:');
  });

  it('--help exits 0', async () => {
    const r = await run('--help');
    expect(r.code).toBe(0);
    expect(r.text).toContain('mailroom check');
  });
});

/** Rows of `explain` output as { field: "value | layer (file:line)" }. */
function rows(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^ {2}(\S+)\s{2,}(.+?)\s{2,}(.+)$/.exec(line);
    if (m && !line.startsWith('  ·') && !line.startsWith('  =')) out[m[1]!] = `${m[2]} | ${m[3]}`;
  }
  return out;
}

describe('mailroom explain', () => {
  it('--company acme-filial: default → company → extends, each field with its layer and file:line', async () => {
    const r = await run('explain', '--config', 'config/', '--company', 'acme-filial');
    expect(r.code).toBe(0);
    const lines = r.out.join('\n').split('\n');
    expect(lines.slice(0, 5)).toEqual([
      'outbound (user mail) for company acme-filial',
      '  · global default (defaults.outbound)',
      '  · company acme (inherited by acme-filial) → mailbox acme-desk (server and identity; keeps timeout, batchWindow, maxPerMinute from below)',
      '  · company acme-filial overrides from',
      '  = sends through mailbox acme-desk — which is DISABLED (enabled: false): the API refuses such mail (422) and queued mail waits until it is enabled',
    ]);
    expect(lines[5]).toBe('  rule: a layer that names a mailbox replaces the server and identity below it; the sending policy (timeout, batchWindow, maxPerMinute, maxConnections) it does not set is inherited from the layers below');
    expect(rows(r.text)).toMatchObject({
      'from.name': 'ACME Filial | company acme-filial (config/companies/acme.yaml:21)',
      'from.address': 'suporte@acme.com.br | mailbox acme-desk (company acme (inherited by acme-filial)) (config/companies/acme.yaml:44)',
      host: 'smtp.office365.com | preset office365 (company acme (inherited by acme-filial)) (config/companies/acme.yaml:27)',
      port: '587 | preset office365 (company acme (inherited by acme-filial)) (config/companies/acme.yaml:27)',
      security: 'starttls | preset office365 (company acme (inherited by acme-filial)) (config/companies/acme.yaml:27)',
      'auth.oauth2.clientSecretFile': '/run/secrets/acme-desk-oauth | mailbox acme-desk (company acme (inherited by acme-filial)) (config/companies/acme.yaml:35)',
      timeout: '180s | global default (config/mailroom.yaml:27)',
      batchWindow: '2s | global default (config/mailroom.yaml:28)',
    });
  });

  it('fields from the global default, the parent company and the branch side by side, then the contract', async () => {
    const cfg = `${F}/explain`;
    const branch = await run('explain', '--config', cfg, '--company', 'branch');
    expect(branch.code).toBe(0);
    expect(rows(branch.text)).toMatchObject({
      host: `smtp.platform.example | global default (${cfg}/mailroom.yaml:5)`,
      'auth.password': `<redacted> | global default (${cfg}/mailroom.yaml:8)`,
      'from.name': `HQ Service Desk | company hq (inherited by branch) (${cfg}/companies.yaml:5)`,
      'from.address': `branch@hq.example | company branch (${cfg}/companies.yaml:10)`,
      timeout: `60s | company hq (inherited by branch) (${cfg}/companies.yaml:6)`,
      sendAs: 'mailbox | built-in default',
    });

    const contract = await run('explain', '--config', cfg, '--company', 'branch', '--contract', 'b-2026');
    expect(contract.code).toBe(0);
    expect(contract.out[0]!.split('\n').slice(0, 6)).toEqual([
      'outbound (user mail) for company branch, contract b-2026',
      '  · global default (defaults.outbound)',
      '  · company hq (inherited by branch) overrides from, timeout',
      '  · company branch overrides from',
      '  · contract b-2026 → mailbox branch-desk (server and identity; keeps timeout from below)',
      '  = sends through mailbox branch-desk',
    ]);
    expect(rows(contract.text)).toMatchObject({
      host: `smtp.office365.com | preset office365 (contract b-2026) (${cfg}/companies.yaml:17)`,
      'from.address': `desk@branch.example | mailbox branch-desk (contract b-2026) (${cfg}/companies.yaml:18)`,
      'auth.oauth2.clientSecret': `<redacted> | mailbox branch-desk (contract b-2026) (${cfg}/companies.yaml:25)`,
    });
  });

  it('--contract on the example config', async () => {
    const r = await run('explain', '--config', 'config/', '--company', 'acme', '--contract', 'acme-2026');
    expect(r.code).toBe(0);
    expect(r.text).toContain('  · contract acme-2026 → mailbox acme-desk');
    expect(rows(r.text)['from.name']).toBe('ACME Suporte | mailbox acme-desk (contract acme-2026) (config/companies/acme.yaml:44)');
  });

  it('--workflow: default, contract, or a mailbox of its own', async () => {
    const reset = await run('explain', '--config', 'config/', '--company', 'acme', '--contract', 'acme-2026', '--workflow', 'password-reset');
    expect(reset.code).toBe(0);
    expect(reset.text).toContain('  · workflow password-reset → global default');
    expect(reset.text).toContain('  = sends through the global default server');
    expect(rows(reset.text)).toMatchObject({
      host: 'smtp.example.com | global default (config/mailroom.yaml:20)',
      'from.name': 'Service Desk | global default (config/mailroom.yaml:26)',
      'auth.passwordFile': '/run/secrets/smtp-default | global default (config/mailroom.yaml:25)',
    });

    const approval = await run('explain', '--config', 'config/', '--company', 'acme', '--contract', 'acme-2026', '--workflow', 'approval-request');
    expect(approval.text).toContain('  · workflow approval-request → contract mailbox');
    expect(approval.text).toContain('  = sends through mailbox acme-desk');

    const invoice = await run('explain', '--config', `${F}/explain`, '--company', 'branch', '--contract', 'b-2026', '--workflow', 'invoice');
    expect(invoice.text).toContain('  = sends through mailbox billing-box');
    expect(rows(invoice.text).host).toBe(`smtp.billing.example | mailbox billing-box (workflow invoice) (${F}/explain/companies.yaml:31)`);
  });

  it('--kind system skips the contract and workflow mailboxes', async () => {
    const r = await run('explain', '--config', `${F}/explain`, '--company', 'branch', '--contract', 'b-2026', '--workflow', 'invoice', '--kind', 'system');
    expect(r.code).toBe(0);
    expect(r.out[0]!.split('\n')[0]).toBe('outbound (system mail) for company branch, contract b-2026, workflow invoice');
    expect(r.text).toContain('  · kind: system skips contract and workflow mailboxes');
    expect(r.text).toContain('  = sends through the global default server');
    expect(rows(r.text)['from.name']).toBe(`HQ Service Desk | company hq (inherited by branch) (${F}/explain/companies.yaml:5)`);
  });

  it('--mailbox: the inbound side with preset, defaults and mailbox layers', async () => {
    const r = await run('explain', '--config', 'config/', '--mailbox', 'acme-desk');
    expect(r.code).toBe(0);
    expect(r.out[0]!.split('\n').slice(0, 3)).toEqual(['mailbox acme-desk (disabled)', '  · read for acme/acme-2026', '  = imap tls outlook.office365.com:993 folder INBOX']);
    expect(rows(r.text)).toMatchObject({
      'inbound.host': 'outlook.office365.com | preset office365 (config/companies/acme.yaml:27)',
      'inbound.port': '993 | preset office365 (config/companies/acme.yaml:27)',
      'inbound.afterFetch': 'move | mailbox acme-desk (config/companies/acme.yaml:40)',
      'inbound.moveTo': 'Processed | mailbox acme-desk (config/companies/acme.yaml:41)',
      'inbound.pollInterval': '60s | defaults.inbound (config/mailroom.yaml:31)',
      'inbound.batchSize': '100 | built-in default',
      'auth.method': 'oauth2 client_credentials | mailbox acme-desk (config/companies/acme.yaml:29)',
    });
    const pop = await run('explain', '--config', 'config/', '--mailbox', 'legacy-pop');
    expect(rows(pop.text)['auth.method']).toBe('password from file /run/secrets/legacy-pop | mailbox legacy-pop (config/companies/acme.yaml:56)');
  });

  it('--company with --mailbox explains sending through that mailbox', async () => {
    const r = await run('explain', '--config', `${F}/explain`, '--company', 'hq', '--mailbox', 'billing-box');
    expect(r.code).toBe(0);
    expect(r.text).toContain('  · explicit mailbox → mailbox billing-box');
  });

  it('an id that does not exist, or an invalid config, exits 1', async () => {
    for (const [flag, id] of [['--company', 'nope'], ['--mailbox', 'nope']] as const) {
      const r = await run('explain', '--config', 'config/', flag, id);
      expect(r.code).toBe(1);
      expect(r.out).toEqual([`error: ${flag} nope is not defined in config/`]);
    }
    expect((await run('explain', '--config', 'config/', '--company', 'acme', '--workflow', 'nope')).code).toBe(1);
    expect((await run('explain', '--config', 'config/', '--company', 'acme', '--contract', 'nope')).code).toBe(1);
    // A contract of the parent company: contracts are not inherited, so say whose it is.
    const parents = await run('explain', '--config', 'config/', '--company', 'acme-filial', '--contract', 'acme-2026');
    expect(parents.code).toBe(1);
    expect(parents.out).toEqual(['error: contract acme-2026 belongs to company acme, not acme-filial (contracts are not inherited through extends)']);
    const broken = await run('explain', '--config', `${F}/broken/extends-cycle`, '--company', 'a');
    expect(broken.code).toBe(1);
    expect(broken.out).toEqual(expectedLines(`${F}/broken/extends-cycle`));
  });
});

describe('mailroom diff', () => {
  const OLD = `${F}/diff/old`;
  const NEW = `${F}/diff/new`;

  it('lists added, changed and removed entities of every kind, and what needs a restart', async () => {
    vi.stubEnv('DIFF_BOX_PASSWORD', 'the-same-on-both-sides');
    const r = await run('diff', '--config', NEW, '--against', OLD);
    expect(r.code).toBe(0);
    expect(r.out).toEqual([
      '- mailbox old-box removed',
      '~ mailbox desk changed: inbound.folder, owners.1.contract',
      '+ mailbox new-box added',
      '- company gone removed',
      '~ company acme changed: contracts.1, name',
      '+ company fresh added',
      '- contract acme/k-old removed',
      '~ contract acme/k1 changed: ticket.type',
      '+ contract acme/k-new added',
      '- route r-remove removed',
      '~ route r-change changed: set.group',
      '+ route r-new added',
      '- webhook crm removed',
      '~ webhook erp changed: url',
      '+ webhook audit added',
      '- workflow legacy-flow removed',
      '~ workflow approval changed: outbound',
      '+ workflow onboarding added',
      '- schedule weekend removed',
      '~ schedule office changed: weekly.mon-fri.0',
      '+ schedule holidays-only added',
      '~ server listen changed: listen.host (takes effect after a restart)',
      '~ store changed: path (takes effect after a restart)',
    ]);
    // Unchanged entities are not listed.
    for (const id of ['steady', 'secret-box', 'stable', 'night', 'bi', 'reset', 'r-keep']) expect(r.text).not.toMatch(new RegExp(` ${id} `));
  });

  it('--format json', async () => {
    vi.stubEnv('DIFF_BOX_PASSWORD', 'x');
    const r = await run('diff', '--config', NEW, '--against', OLD, '--format', 'json');
    const { changes } = JSON.parse(r.text) as { changes: { kind: string; id: string; change: string; restartRequired?: boolean; fields?: string[] }[] };
    expect(changes).toContainEqual({ kind: 'server', id: 'listen', change: 'changed', restartRequired: true, fields: ['listen.host'] });
    expect(changes).toContainEqual({ kind: 'store', id: 'store', change: 'changed', restartRequired: true, fields: ['path'] });
    expect(changes).toContainEqual({ kind: 'mailbox', id: 'new-box', change: 'added' });
    expect(changes.filter((c) => c.restartRequired)).toHaveLength(2);
  });

  it('names the changed fields of defaults and server, without repeating the kind ("defaults defaults")', async () => {
    const write = (batchWindow: string, token: string) => {
      const dir = mkdtempSync(join(tmpdir(), 'mailroom-diff-'));
      writeFileSync(join(dir, 'mailroom.yaml'), [
        'version: 1',
        'server: { listen: 127.0.0.1:9465, apiTokens: [{ name: ops, token: "${OPS_TOKEN}", companies: ["*"] }] }',
        'store: { path: ./data }',
        `defaults: { outbound: { host: smtp.example.com, port: 587, batchWindow: ${batchWindow}, from: { address: a@example.com } }, inbound: { pollInterval: 60s } }`,
        '',
      ].join('\n'));
      return { dir, token };
    };
    const before = write('2s', 'old-token-0123456789');
    const after = write('5s', 'new-token-0123456789');
    const [a, b] = [await loadConfig(before.dir, { env: { OPS_TOKEN: before.token } }), await loadConfig(after.dir, { env: { OPS_TOKEN: after.token } })];
    expect([...a.problems, ...b.problems].filter((p) => p.severity === 'error')).toEqual([]);
    const lines = diffSnapshots(a.snapshot!, b.snapshot!).map(formatChange);
    expect(lines).toEqual(['~ defaults changed: outbound.batchWindow', '~ server api changed: apiTokens.0.token']);
    expect(lines.join('\n')).not.toContain('token-0123456789');
  });

  it('no changes', async () => {
    vi.stubEnv('DIFF_BOX_PASSWORD', 'x');
    const r = await run('diff', '--config', OLD, '--against', OLD);
    expect(r).toMatchObject({ code: 0, out: ['no changes'] });
  });

  it('an invalid side exits 1 with its problems', async () => {
    const r = await run('diff', '--config', `${F}/broken/extends-cycle`, '--against', 'config/');
    expect(r.code).toBe(1);
    expect(r.out).toEqual([`new config (${F}/broken/extends-cycle) is invalid:`, ...expectedLines(`${F}/broken/extends-cycle`)]);
  });

  it('a changed ${VAR} secret value shows its mailbox as changed (and nothing else)', async () => {
    const before = await loadConfig(OLD, { env: { DIFF_BOX_PASSWORD: 'old-password-value' } });
    const after = await loadConfig(OLD, { env: { DIFF_BOX_PASSWORD: 'new-password-value' } });
    const same = await loadConfig(OLD, { env: { DIFF_BOX_PASSWORD: 'old-password-value' } });
    const changes = diffSnapshots(before.snapshot!, after.snapshot!);
    expect(changes.map(formatChange)).toEqual(['~ mailbox secret-box changed: auth.password, outbound.auth.password']);
    expect(diffSnapshots(before.snapshot!, same.snapshot!)).toEqual([]);
    expect(JSON.stringify(changes)).not.toContain('password-value');
  });
});
