// The loader: directory merge, ${VAR} interpolation, provider presets, outbound layering,
// snapshot immutability and the content hash.
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { interpolate } from '../../src/config/interpolate.js';
import { loadConfig, loadFromSources, type LoadOptions } from '../../src/config/load.js';
import { decideOutbound, type OutboundRequest } from '../../src/config/outbound-layers.js';
import { PRESETS } from '../../src/config/presets.js';
import { formatProblem } from '../../src/config/problems.js';
import type { Snapshot } from '../../src/config/snapshot.js';

const temps: string[] = [];
afterAll(async () => {
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

/** Write a tree of files (paths relative to a fresh temporary directory) and return the directory. */
async function tree(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mailroom-config-'));
  temps.push(dir);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

/** Load one in-memory YAML file (beside the `version: 1` every config needs, in a file of its own
 * so that the positions these tests expect stay those of mem.yaml). */
function mem(text: string, opts: LoadOptions = { env: {} }) {
  return loadFromSources([{ name: 'mem.yaml', absolute: '/mem.yaml', text }, VERSION_FILE], opts);
}
const VERSION_FILE = { name: 'version.yaml', absolute: '/version.yaml', text: 'version: 1\n' };

function valid(text: string, opts?: LoadOptions): Snapshot {
  const r = mem(text, opts);
  expect(r.problems.filter((p) => p.severity === 'error').map(formatProblem)).toEqual([]);
  return r.snapshot!;
}

describe('directory merge', () => {
  it('walks recursively, reads *.yaml and *.yml, concatenates routes in file-name order', async () => {
    const dir = await tree({
      '10-base.yaml': 'version: 1\nserver: { listen: 127.0.0.1:9465 }\nroutes:\n  - name: r1\n',
      '20-more.yml': 'companies: { a: { name: A } }\nroutes:\n  - name: r2\n  - name: r2b\n',
      'sub/05-nested.yaml': 'companies: { b: { name: B } }\nroutes:\n  - name: r3\n',
      'sub/deeper/UPPER.YAML': 'webhooks: { erp: { url: "https://erp.example.com/h", secretFile: /s } }\n',
      'notes.txt': 'routes: [this is not yaml config]\n',
      'README.md': '# not config\n',
    });
    const r = await loadConfig(dir, { env: {} });
    expect(r.problems).toEqual([]);
    const s = r.snapshot!;
    expect(s.routes.map((x) => x.name)).toEqual(['r1', 'r2', 'r2b', 'r3']);
    expect(Object.keys(s.companies).sort()).toEqual(['a', 'b']);
    expect(Object.keys(s.webhooks)).toEqual(['erp']);
    expect(s.files.map((f) => f.slice(dir.length + 1))).toEqual(['10-base.yaml', '20-more.yml', 'sub/05-nested.yaml', 'sub/deeper/UPPER.YAML']);
  });

  it('keeps the file:line of every merged entry (routes renumbered across files)', async () => {
    const dir = await tree({
      'a.yaml': 'version: 1\nroutes:\n  - name: r1\n',
      'b.yaml': '# comment\nroutes:\n  - name: r2\n    match: { mailbox: ghost }\n',
    });
    const r = await loadConfig(dir, { env: {} });
    expect(r.problems.map((p) => ({ path: p.path, at: `${p.file?.slice(dir.length + 1)}:${p.line}:${p.col}`, message: p.message }))).toEqual([
      { path: 'routes.1.match.mailbox', at: 'b.yaml:4:23', message: 'mailbox "ghost" is not defined' },
    ]);
  });

  it('ignores names starting with "." : hidden files, editor temp files, ConfigMap ..data internals', async () => {
    const dir = await tree({
      '.hidden.yaml': 'companies: { a: { name: hidden duplicate } }\n',
      '.#mailroom.yaml': 'this: is: an: emacs: lock: [\n',
      '.git/config.yaml': 'companies: { a: {} }\n',
      'companies/.acme.yaml.swp': 'garbage',
      // A Kubernetes ConfigMap mount: real files in a timestamped dir, ..data links to it, and the
      // visible names are links into ..data. Each file must be read once, through the visible link.
      '..2026_01_01_00_00_00.000000001/mailroom.yaml': 'version: 1\ncompanies: { a: { name: A } }\nroutes:\n  - name: only-once\n',
    });
    await symlink('..2026_01_01_00_00_00.000000001', join(dir, '..data'));
    await symlink('..data/mailroom.yaml', join(dir, 'mailroom.yaml'));
    const r = await loadConfig(dir, { env: {} });
    expect(r.problems).toEqual([]);
    expect(r.snapshot!.files).toEqual([join(dir, 'mailroom.yaml')]);
    expect(r.snapshot!.routes.map((x) => x.name)).toEqual(['only-once']);
    expect(r.snapshot!.companies.a!.name).toBe('A');
  });

  it('loads a single file', async () => {
    const dir = await tree({ 'one.yaml': 'version: 1\ncompanies: { a: {} }\n', 'two.yaml': 'companies: { a: {} }\n' });
    const r = await loadConfig(join(dir, 'one.yaml'), { env: {} });
    expect(r.problems).toEqual([]);
    expect(Object.keys(r.snapshot!.companies)).toEqual(['a']);
  });

  it('reports a missing path and a directory without YAML files', async () => {
    const dir = await tree({ 'readme.txt': 'nothing here' });
    const missing = await loadConfig(join(dir, 'nope'), { env: {} });
    expect(missing.problems.map((p) => p.message)).toEqual([`config path ${join(dir, 'nope')} does not exist`]);
    const empty = await loadConfig(dir, { env: {} });
    expect(empty.problems.map((p) => p.message)).toEqual(['no *.yaml or *.yml files found in the config path']);
    expect(empty.snapshot).toBeNull();
  });

  it('accepts the same version: in several files, and an empty file with a warning naming it', async () => {
    const dir = await tree({ 'a.yaml': '# nothing yet\n', 'b.yaml': 'version: 1\n', 'c.yaml': 'version: 1\ncompanies: { a: {} }\n' });
    const r = await loadConfig(dir, { env: {} });
    expect(r.problems.map(formatProblem)).toEqual([`${join(dir, 'a.yaml')}:1:1: warning: ${join(dir, 'a.yaml')} is empty (or only comments): it sets nothing`]);
    expect(r.snapshot).not.toBeNull();
  });

  it.each([
    ['empty', ''],
    ['comment-only', '# companies moved elsewhere\n'],
    ['an empty map', '{}\n'],
  ])('rejects a directory whose only file is %s: no version', async (_kind, text) => {
    const dir = await tree({ 'mailroom.yaml': text });
    const r = await loadConfig(dir, { env: {} });
    const file = join(dir, 'mailroom.yaml');
    expect(r.snapshot).toBeNull();
    expect(r.problems.map(formatProblem)).toContain(`${file}:1:1: error: no file sets version: 1 — is this the right directory?`);
  });
});

describe('interpolation', () => {
  it('substitutes ${VAR}, ${VAR:-default} and ${VAR:?message} (pure)', () => {
    const env = { HOST: 'smtp.example.com', EMPTY: '', PORT: '2525' };
    expect(interpolate('${HOST}', env)).toMatchObject({ value: 'smtp.example.com', errors: [], usedVars: ['HOST'] });
    expect(interpolate('${HOST}:${PORT}', env).value).toBe('smtp.example.com:2525');
    expect(interpolate('${MISSING:-fallback.example.com}', env)).toMatchObject({ value: 'fallback.example.com', errors: [] });
    expect(interpolate('${EMPTY:-used when empty}', env).value).toBe('used when empty');
    expect(interpolate('${HOST:-ignored}', env).value).toBe('smtp.example.com');
    expect(interpolate('${HOST:?never shown}', env)).toMatchObject({ value: 'smtp.example.com', errors: [] });
    expect(interpolate('${MISSING:?ask the platform team}', env).errors).toEqual(['environment variable MISSING is not set: ask the platform team']);
    expect(interpolate('${MISSING}', env).errors).toEqual(['environment variable MISSING is not set (use ${MISSING:-default} for a default)']);
    expect(interpolate('no placeholders, $HOME and $ are literal', env)).toMatchObject({ value: 'no placeholders, $HOME and $ are literal', errors: [], usedVars: [] });
    expect(interpolate('${BROKEN', env).errors).toEqual(['malformed ${...} placeholder: write ${NAME}, ${NAME:-default} or ${NAME:?message}']);
  });

  it('rejects values with newlines without echoing them', () => {
    const r = interpolate('${MULTI}', { MULTI: 'line one\nline two' });
    expect(r.errors).toEqual(['environment variable MULTI contains a newline; values with newlines are rejected']);
    expect(r.value).not.toContain('line one');
    expect(interpolate('${CR}', { CR: 'a\rb' }).errors).toHaveLength(1);
  });

  it('--skip-env keeps placeholders, reports nothing about them, and still checks the rest', () => {
    const text = [
      'server:',
      '  apiTokens: [{ name: portal, token: "${PORTAL_TOKEN}", companies: ["*"] }]',
      'defaults:',
      '  outbound:',
      '    host: ${SMTP_HOST}',
      '    caFile: "${CA_FILE:?needed}"',
      'routes:',
      '  - name: r',
      '    match: { mailbox: ghost }',
    ].join('\n');
    const skipped = mem(text, { env: {}, skipEnv: true });
    expect(skipped.problems.map(formatProblem)).toEqual(['mem.yaml:9:23: error: mailbox "ghost" is not defined']);
    const strict = mem(text, { env: {} });
    expect(strict.problems.map((p) => `${p.line}: ${p.message}`)).toEqual([
      '2: environment variable PORTAL_TOKEN is not set (use ${PORTAL_TOKEN:-default} for a default)',
      // no "defaults.outbound needs a host" nor "token too short": the unset variable is the problem
      '5: environment variable SMTP_HOST is not set (use ${SMTP_HOST:-default} for a default)',
      '6: environment variable CA_FILE is not set: needed',
      '9: mailbox "ghost" is not defined',
    ]);
  });

  it('interpolates through the loader and marks the values as coming from the environment', () => {
    const s = valid(
      [
        'server: { listen: "${LISTEN:-127.0.0.1:9999}" }',
        'store: { path: "${DATA_DIR}/mailroom" }',
        'mailboxes:',
        '  out:',
        '    auth: { user: "${SMTP_USER}", password: "${SMTP_PASSWORD}" }',
        '    outbound: { host: smtp.example.com }',
      ].join('\n'),
      { env: { DATA_DIR: '/var/lib', SMTP_USER: 'out@example.com', SMTP_PASSWORD: 'pw-from-env' } },
    );
    expect(s.server.listen).toEqual({ host: '127.0.0.1', port: 9999 });
    expect(s.store.path).toBe('/var/lib/mailroom');
    expect(s.mailboxes.out!.auth!.user).toBe('out@example.com');
    const pw = s.mailboxes.out!.auth!.password;
    expect(pw?.kind === 'value' && pw.secret.reveal()).toBe('pw-from-env');
    // From the environment, so not "written inline".
    expect(s.warnings).toEqual([]);
    expect(s.locations.get('/mailboxes/out/auth/password')).toMatchObject({ fromEnv: true, vars: ['SMTP_PASSWORD'] });
  });

  it('a port from ${VAR} is a number when it is all digits; else says a placeholder gives a string', () => {
    const ok = mem('defaults:\n  outbound:\n    host: smtp.example.com\n    port: ${SMTP_PORT:-587}\n    from: { address: a@example.com }\n');
    expect(ok.problems.map(formatProblem)).toEqual([]);
    expect(ok.snapshot!.defaultOutbound!.port).toBe(587);
    const r = mem('defaults:\n  outbound:\n    host: smtp.example.com\n    port: ${SMTP_PORT:-smtp}\n');
    expect(r.problems.map(formatProblem)).toEqual(['mem.yaml:4:11: error: defaults.outbound.port: must be integer (a ${VAR} placeholder always gives a string)']);
  });
});

describe('provider presets', () => {
  const providers = ['office365', 'gmail', 'yahoo', 'outlook', 'zoho'] as const;

  const presetConfig = (provider: string) => `
mailboxes:
  imap-box:
    enabled: false
    provider: ${provider}
    auth:
      user: desk@example.com
      oauth2: { flow: refresh_token, clientId: app, tenantId: tenant-1, refreshTokenFile: /run/secrets/rt }
    inbound: { protocol: imap }
    outbound: {}
  pop-box:
    enabled: false
    provider: ${provider}
    auth: { user: desk@example.com, passwordFile: /run/secrets/pw }
    inbound: { protocol: pop3 }
`;

  it.each(providers)('%s fills host, port and TLS for IMAP, POP3 and SMTP, and the OAuth2 token URL and scopes', (provider) => {
    const p = PRESETS[provider];
    const s = valid(presetConfig(provider));
    const imap = s.mailboxes['imap-box']!;
    expect(imap.inbound).toMatchObject({ host: p.imap!.host, port: p.imap!.port, security: p.imap!.security });
    expect(imap.outbound).toMatchObject({ host: p.smtp!.host, port: p.smtp!.port, security: p.smtp!.security });
    expect(s.mailboxes['pop-box']!.inbound).toMatchObject({ host: p.pop3!.host, port: p.pop3!.port, security: p.pop3!.security });
    const tokenUrl = p.oauth2!.tokenUrl.replace('{tenantId}', 'tenant-1');
    expect(imap.auth!.oauth2).toMatchObject({ tokenUrl, scope: p.oauth2!.scope.imap });
    expect(imap.outbound!.auth!.oauth2).toMatchObject({ tokenUrl, scope: p.oauth2!.scope.smtp });
  });

  it('office365: the tenant goes into the token URL (common without one); client_credentials asks for .default', () => {
    const s = valid(`
mailboxes:
  app-only:
    enabled: false
    provider: office365
    auth: { user: desk@acme.example, oauth2: { flow: client_credentials, clientId: app, tenantId: acme-tenant, clientSecretFile: /s } }
    inbound: { protocol: imap }
  no-tenant:
    enabled: false
    provider: office365
    auth: { user: desk@acme.example, oauth2: { flow: refresh_token, clientId: app, refreshTokenFile: /s } }
    inbound: { protocol: pop3 }
`);
    expect(s.mailboxes['app-only']!.auth!.oauth2).toMatchObject({
      tokenUrl: 'https://login.microsoftonline.com/acme-tenant/oauth2/v2.0/token',
      scope: 'https://outlook.office365.com/.default',
    });
    expect(s.mailboxes['no-tenant']!.auth!.oauth2).toMatchObject({
      tokenUrl: 'https://login.microsoftonline.com/common/oauth2/v2.0/token',
      scope: 'https://outlook.office.com/POP.AccessAsUser.All offline_access',
    });
  });

  it('explicit fields win over the preset', () => {
    const s = valid(`
mailboxes:
  custom-ports:
    enabled: false
    provider: gmail
    auth:
      user: desk@example.com
      oauth2: { flow: refresh_token, clientId: app, refreshTokenFile: /s, tokenUrl: "https://token.example.com/t", scope: "mail" }
    inbound: { protocol: imap, host: imap.relay.example.com, port: 10993, security: tls }
    outbound: { host: smtp.relay.example.com, port: 2525, security: starttls }
`);
    const mb = s.mailboxes['custom-ports']!;
    expect(mb.inbound).toMatchObject({ host: 'imap.relay.example.com', port: 10993, security: 'tls' });
    expect(mb.outbound).toMatchObject({ host: 'smtp.relay.example.com', port: 2525, security: 'starttls' });
    expect(mb.auth!.oauth2).toMatchObject({ tokenUrl: 'https://token.example.com/t', scope: 'mail' });
    expect(mb.outbound!.auth!.oauth2).toMatchObject({ tokenUrl: 'https://token.example.com/t', scope: 'mail' });
  });

  it("a security that differs from the preset's takes that security's port, not the preset's", () => {
    const s = valid(`
mailboxes:
  gm:
    enabled: false
    provider: gmail
    auth: { user: a@gmail.example, passwordFile: /s }
    inbound: { protocol: imap, security: starttls }
    outbound: { security: starttls }
  same:
    enabled: false
    provider: office365
    auth: { user: a@o365.example, passwordFile: /s }
    outbound: { security: starttls }
`);
    expect(s.mailboxes.gm!.inbound).toMatchObject({ host: 'imap.gmail.com', port: 143, security: 'starttls' });
    expect(s.mailboxes.gm!.outbound).toMatchObject({ host: 'smtp.gmail.com', port: 587, security: 'starttls' });
    expect(s.mailboxes.same!.outbound).toMatchObject({ host: 'smtp.office365.com', port: 587, security: 'starttls' });
  });

  it('custom (or no provider) fills nothing', () => {
    const r = mem('mailboxes:\n  c:\n    enabled: false\n    provider: custom\n    auth: { user: u, passwordFile: /s }\n    inbound: { protocol: imap }\n');
    expect(r.problems.map((p) => p.message)).toEqual([expect.stringContaining('inbound mailbox "c" needs a host or a provider preset')]);
  });
});

describe('outbound layering (decideOutbound)', () => {
  const LAYERS = `defaults:
  outbound:
    host: smtp.default.example
    port: 587
    security: starttls
    auth: { user: notify@platform.example, passwordFile: /run/secrets/default }
    from: { name: Platform, address: notify@platform.example }
    timeout: 120s
companies:
  plain: {}
  hq:
    outbound:
      from: { name: HQ Desk }
      timeout: 60s
    contracts:
      hq-2026: { outbound: contract-box }
      hq-nobox: {}
  branch:
    extends: hq
    outbound:
      from: { address: branch@hq.example }
  picker:
    outbound: { mailbox: picker-box, from: { name: Picker Override } }
    contracts:
      pk-2026: { outbound: contract-box }
  picker-branch:
    extends: picker
mailboxes:
  contract-box:
    provider: office365
    address: contract@hq.example
    auth: { user: contract@hq.example, passwordFile: /run/secrets/contract }
  picker-box:
    auth: { user: box@picker.example, passwordFile: /run/secrets/picker }
    outbound:
      host: smtp.picker.example
      port: 2525
      security: tls
      from: { name: Picker Box, address: box@picker.example }
  invoice-box:
    outbound: { host: smtp.invoices.example }
workflows:
  approval: { outbound: contract }
  reset: { outbound: default }
  invoice: { outbound: invoice-box }
`;
  const snap = valid(LAYERS);
  /** 1-based line of LAYERS holding `needle` (the provenance every field must point at). */
  const L = (needle: string) => {
    const i = LAYERS.split('\n').findIndex((l) => l.includes(needle));
    if (i < 0) throw new Error(`not in LAYERS: ${needle}`);
    return i + 1;
  };
  const decide = (req: OutboundRequest) => decideOutbound(snap.config, snap.locations, req);
  /** field → "value @ layer" (line), for compact expectations. */
  const view = (req: OutboundRequest) =>
    Object.fromEntries([...decide(req).fields].map(([k, f]) => [k, `${String(f.value)} @ ${f.layer}${f.loc ? `:${f.loc.line}` : ''}`]));

  it('global default only', () => {
    const d = decide({});
    expect(d.mailbox).toBeNull();
    expect(view({})).toMatchObject({
      host: `smtp.default.example @ global default:${L('host: smtp.default')}`,
      'from.name': `Platform @ global default:${L('name: Platform')}`,
      'auth.passwordFile': `/run/secrets/default @ global default:${L('/run/secrets/default')}`,
      timeout: `120s @ global default:${L('timeout: 120s')}`,
      sendAs: 'mailbox @ built-in default',
      maxConnections: '5 @ built-in default',
    });
    expect(d.trail).toEqual(['global default (defaults.outbound)']);
  });

  it('a company without outbound uses the global default', () => {
    expect(decide({ company: 'plain' }).mailbox).toBeNull();
    expect(view({ company: 'plain' })).toEqual(view({}));
  });

  it('company field overrides apply on top of the global default', () => {
    expect(decide({ company: 'hq' }).mailbox).toBeNull();
    expect(view({ company: 'hq' })).toMatchObject({
      host: `smtp.default.example @ global default:${L('host: smtp.default')}`,
      'from.name': `HQ Desk @ company hq:${L('HQ Desk')}`,
      'from.address': `notify@platform.example @ global default:${L('name: Platform')}`,
      timeout: `60s @ company hq:${L('timeout: 60s')}`,
    });
  });

  it('extends: the parent company applies first, the child wins', () => {
    const d = decide({ company: 'branch' });
    expect(d.mailbox).toBeNull();
    expect(view({ company: 'branch' })).toMatchObject({
      host: `smtp.default.example @ global default:${L('host: smtp.default')}`,
      'from.name': `HQ Desk @ company hq (inherited by branch):${L('HQ Desk')}`,
      'from.address': `branch@hq.example @ company branch:${L('branch@hq.example')}`,
      timeout: `60s @ company hq (inherited by branch):${L('timeout: 60s')}`,
    });
    expect(d.trail).toEqual(['global default (defaults.outbound)', 'company hq (inherited by branch) overrides from, timeout', 'company branch overrides from']);
  });

  it("a company's mailbox pick replaces the server and identity below; its field overrides apply on top; the sending policy stays inherited", () => {
    expect(decide({ company: 'picker' }).mailbox).toBe('picker-box');
    const v = view({ company: 'picker' });
    expect(v).toMatchObject({
      host: `smtp.picker.example @ mailbox picker-box (company picker):${L('host: smtp.picker')}`,
      port: `2525 @ mailbox picker-box (company picker):${L('port: 2525')}`,
      'auth.user': `box@picker.example @ mailbox picker-box (company picker):${L('/run/secrets/picker')}`,
      'from.address': `box@picker.example @ mailbox picker-box (company picker):${L('name: Picker Box')}`,
      'from.name': `Picker Override @ company picker:${L('Picker Override')}`,
      // sending policy: the mailbox sets no timeout, so the global default's still applies
      timeout: `120s @ global default:${L('timeout: 120s')}`,
    });
    expect(v).not.toHaveProperty('auth.passwordFile', expect.stringContaining('default'));
    expect(v['auth.passwordFile']).toBe(`/run/secrets/picker @ mailbox picker-box (company picker):${L('/run/secrets/picker')}`);
  });

  it('an inherited mailbox pick', () => {
    expect(decide({ company: 'picker-branch' }).mailbox).toBe('picker-box');
    expect(view({ company: 'picker-branch' })).toMatchObject({ 'from.name': `Picker Override @ company picker (inherited by picker-branch):${L('Picker Override')}` });
  });

  it("a contract's mailbox wins over the company (preset fills its server)", () => {
    const d = decide({ company: 'hq', contract: 'hq-2026' });
    expect(d.mailbox).toBe('contract-box');
    expect(view({ company: 'hq', contract: 'hq-2026' })).toMatchObject({
      host: `smtp.office365.com @ preset office365 (contract hq-2026):${L('provider: office365')}`,
      port: `587 @ preset office365 (contract hq-2026):${L('provider: office365')}`,
      'from.address': `contract@hq.example @ mailbox contract-box (contract hq-2026):${L('address: contract@hq.example')}`,
      'auth.user': `contract@hq.example @ mailbox contract-box (contract hq-2026):${L('/run/secrets/contract')}`,
    });
    expect(view({ company: 'hq', contract: 'hq-2026' })).not.toHaveProperty('from.name');
  });

  it('a contract without an outbound mailbox keeps the company layer', () => {
    expect(decide({ company: 'hq', contract: 'hq-nobox' }).mailbox).toBeNull();
    expect(view({ company: 'hq', contract: 'hq-nobox' })).toEqual(view({ company: 'hq' }));
  });

  it('workflow outbound: contract', () => {
    expect(decide({ company: 'hq', contract: 'hq-2026', workflow: 'approval' }).mailbox).toBe('contract-box');
    const none = decide({ company: 'hq', contract: 'hq-nobox', workflow: 'approval' });
    expect(none.mailbox).toBeNull();
    expect(none.trail).toContain('workflow approval asks for the contract mailbox, none set: kept the layer below');
  });

  it('workflow outbound: default goes back to the global default, whatever the company and contract say', () => {
    const d = decide({ company: 'picker', contract: 'pk-2026', workflow: 'reset' });
    expect(d.mailbox).toBeNull();
    expect(view({ company: 'picker', contract: 'pk-2026', workflow: 'reset' })).toMatchObject({
      host: `smtp.default.example @ global default:${L('host: smtp.default')}`,
      'from.name': `Platform @ global default:${L('name: Platform')}`,
    });
  });

  it('workflow outbound: a mailbox id', () => {
    const d = decide({ company: 'hq', contract: 'hq-2026', workflow: 'invoice' });
    expect(d.mailbox).toBe('invoice-box');
    expect(view({ company: 'hq', contract: 'hq-2026', workflow: 'invoice' })).toMatchObject({ host: `smtp.invoices.example @ mailbox invoice-box (workflow invoice):${L('smtp.invoices.example')}` });
  });

  it('an explicit mailbox wins over everything', () => {
    const d = decide({ company: 'hq', contract: 'hq-2026', workflow: 'invoice', mailbox: 'picker-box' });
    expect(d.mailbox).toBe('picker-box');
    expect(d.trail.at(-1)).toBe('explicit mailbox → mailbox picker-box (server and identity; keeps timeout from below)');
  });

  it('kind system skips the contract and workflow mailboxes (company and global layers only)', () => {
    const sys = decide({ company: 'picker', contract: 'pk-2026', workflow: 'invoice', kind: 'system' });
    expect(sys.mailbox).toBe('picker-box');
    expect(sys.trail).toContain('kind: system skips contract and workflow mailboxes');
    expect(decide({ company: 'hq', contract: 'hq-2026', kind: 'system' }).mailbox).toBeNull();
    // user is the default kind
    expect(decide({ company: 'picker', contract: 'pk-2026', workflow: 'invoice' }).mailbox).toBe('invoice-box');
    expect(decide({ company: 'picker', contract: 'pk-2026', workflow: 'invoice', kind: 'user' }).mailbox).toBe('invoice-box');
  });

  it('the resolved snapshot uses the same decision', () => {
    expect(snap.defaultOutbound).toMatchObject({ mailbox: null, host: 'smtp.default.example', port: 587, timeoutMs: 120_000 });
    expect(snap.mailboxes['picker-box']!.outbound).toMatchObject({ host: 'smtp.picker.example', port: 2525, security: 'tls', from: { name: 'Picker Box', address: 'box@picker.example' } });
    expect(snap.workflows).toEqual({ approval: { outbound: 'contract' }, reset: { outbound: 'default' }, invoice: { outbound: 'invoice-box' } });
  });
});

describe('snapshot', () => {
  const TEXT = `
companies:
  acme: { contracts: { k: { inbound: [desk] } } }
mailboxes:
  desk:
    auth: { user: desk@example.com, passwordFile: /s }
    inbound: { protocol: imap, host: imap.example.com }
routes:
  - name: r
    set: { tags: [a] }
`;

  it('is deeply frozen', () => {
    const s = valid(TEXT);
    const mutations: (() => void)[] = [
      () => ((s as { hash: string }).hash = 'x'),
      () => ((s.mailboxes as Record<string, unknown>).other = {}),
      () => ((s.mailboxes.desk!.inbound as { host: string }).host = 'evil.example.com'),
      () => (s.routes as unknown[]).push({ name: 'x' }),
      () => (s.routes[0]!.set!.tags as string[]).push('b'),
      () => ((s.config.mailboxes!.desk!.inbound as { host: string }).host = 'evil.example.com'),
      () => ((s.companies.acme!.contracts.k!.inbound as string[])[0] = 'x'),
      () => ((s.server.listen as { port: number }).port = 1),
    ];
    for (const m of mutations) expect(m).toThrow(TypeError);
    expect(s.mailboxes.desk!.inbound!.host).toBe('imap.example.com');
  });

  it('hash: identical content gives the same hash, any change a different one', async () => {
    const files = { 'a.yaml': TEXT, 'b.yaml': 'version: 1\nwebhooks: {}\n' };
    const dir = await tree(files);
    const one = await loadConfig(dir, { env: {} });
    const two = await loadConfig(dir, { env: {} });
    expect(one.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(two.hash).toBe(one.hash);
    expect(one.snapshot!.hash).toBe(one.hash);

    await writeFile(join(dir, 'b.yaml'), `${files['b.yaml']}\n`); // whitespace only: still different bytes
    expect((await loadConfig(dir, { env: {} })).hash).not.toBe(one.hash);
    await writeFile(join(dir, 'b.yaml'), files['b.yaml']);
    expect((await loadConfig(dir, { env: {} })).hash).toBe(one.hash);

    await writeFile(join(dir, 'c.yaml'), '');
    expect((await loadConfig(dir, { env: {} })).hash).not.toBe(one.hash);
  });

  it('hash is computed for an invalid config too (a failed reload of the same bytes is recognised)', () => {
    const a = mem('companies: { a: { extends: nobody } }\n');
    const b = mem('companies: { a: { extends: nobody } }\n');
    expect(a.snapshot).toBeNull();
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(b.hash).toBe(a.hash);
  });
});
