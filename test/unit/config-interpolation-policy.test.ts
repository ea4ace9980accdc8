// `${VAR}` only where it belongs (issue 20 item 7): in secret fields and in the fields an operator sets
// per deployment, marked `x-interpolate: true` in the schema. Anywhere else (a sender name, a subject,
// a route) it is refused with file:line:col and never looked up, so a company file cannot make
// `explain` or a From header print another tenant's secret; and a variable that a secret field uses
// may not stand in a non-secret field either.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fieldPolicy, markedFields } from '../../src/config/interpolation-policy.js';
import { loadFromSources, type LoadOptions } from '../../src/config/load.js';
import { formatProblem } from '../../src/config/problems.js';
import { loadSchema } from '../../src/config/schema.js';
import { main } from '../../src/main.js';

const SECRET = 'beta-pop-S3cr3t-planted';
const ENV = { BETA_POP_PASS: SECRET, SMTP_HOST: 'smtp.example.com', SMTP_PORT: '2525', DATA: '/var/lib/mailroom', LISTEN: '127.0.0.1:9999', HOOK_URL: 'https://erp.example/hook', HOOK_SECRET: 'hook-secret-0123456789abcdef', BOX_USER: 'desk@beta.example' };
const schema = loadSchema();
const temps: string[] = [];
afterAll(async () => {
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

const PLATFORM = `version: 1
server: { listen: "\${LISTEN}" }
store: { path: "\${DATA}" }
mailboxes:
  beta-pop:
    auth: { user: "\${BOX_USER}", password: "\${BETA_POP_PASS}" }
    inbound: { protocol: pop3, host: "\${SMTP_HOST}", port: "\${SMTP_PORT}" }
webhooks:
  erp: { url: "\${HOOK_URL}", secret: "\${HOOK_SECRET}" }
`;
const files = (...texts: [string, string][]) => texts.map(([name, text]) => ({ name, absolute: `/${name}`, text }));
const load = (companies: string, opts: LoadOptions = { env: ENV }) => loadFromSources(files(['mailroom.yaml', PLATFORM], ['companies.yaml', companies]), opts);
const ALLOWED = 'interpolation is allowed only in secret fields (clientSecret, password, refreshToken, secret, token) and in apiUrl, caFile, clientId, clientSecretFile, host, listen, passwordFile, path, port, publicUrl, refreshTokenFile, secretFile, serviceAccountKeyFile, tenantId, tokenFile, tokenUrl, url, urlFile, user';

describe('where ${VAR} may stand', () => {
  it('secret and operator fields interpolate (a port from the environment is a number)', () => {
    const r = load('companies:\n  beta:\n    contracts: { main: { inbound: [beta-pop] } }\n');
    expect(r.problems.map(formatProblem)).toEqual([]);
    const s = r.snapshot!;
    expect(s.server.listen).toEqual({ host: '127.0.0.1', port: 9999 });
    expect(s.store.path).toBe('/var/lib/mailroom');
    const mb = s.mailboxes['beta-pop']!;
    expect(mb.inbound).toMatchObject({ host: 'smtp.example.com', port: 2525 });
    expect(mb.auth?.user).toBe('desk@beta.example');
    expect(s.webhooks.erp!.url).toBe('https://erp.example/hook');
  });

  it("a sender name is refused with file:line:col, the variable never read: check, explain and the problems never show another tenant's secret", async () => {
    const companies = 'companies:\n  beta:\n    outbound:\n      from: { name: "Desk ${BETA_POP_PASS}" }\n    contracts: { main: { inbound: [beta-pop] } }\n';
    const r = load(companies);
    expect(r.snapshot).toBeNull();
    expect(r.problems.map(formatProblem)).toEqual([`companies.yaml:4:21: error: \${BETA_POP_PASS} is not allowed in companies.beta.outbound.from.name: ${ALLOWED}`]);
    // the same with --skip-env: the rule does not depend on the environment
    expect(load(companies, { env: {}, skipEnv: true }).problems.map(formatProblem)).toEqual(r.problems.map(formatProblem));

    const dir = await mkdtemp(join(tmpdir(), 'mailroom-interp-'));
    temps.push(dir);
    await writeFile(join(dir, 'mailroom.yaml'), PLATFORM);
    await writeFile(join(dir, 'companies.yaml'), companies);
    for (const [k, v] of Object.entries(ENV)) process.env[k] = v;
    try {
      for (const argv of [['check', '--config', dir], ['explain', '--config', dir, '--company', 'beta']]) {
        const out: string[] = [];
        const code = await main(argv, (s) => out.push(s), (s) => out.push(s));
        expect(code, argv.join(' ')).toBe(1);
        expect(out.join('\n')).not.toContain(SECRET);
        if (argv[0] === 'check') expect(out.join('\n')).toContain(`companies.yaml:4:21: error: \${BETA_POP_PASS} is not allowed in companies.beta.outbound.from.name`);
      }
    } finally {
      for (const k of Object.keys(ENV)) delete process.env[k];
    }
  });

  it('refuses ${VAR} in templates, routes, ids and addresses alike', () => {
    const r = load(
      [
        'companies:',
        '  beta:',
        '    name: "${DATA}"',
        '    acknowledge: { subject: "Got it ${BOX_USER}", text: "x" }',
        '    notify: [{ address: "${BOX_USER}", events: [mailbox-down] }]',
        '    contracts: { main: { inbound: [beta-pop] } }',
        'routes:',
        '  - { name: r1, match: { from: "${BOX_USER}" }, set: { tags: ["${SMTP_HOST}"] } }',
      ].join('\n'),
    );
    expect(r.problems.map((p) => `${p.line}:${p.col} ${p.message.split(':')[0]}`)).toEqual([
      '3:11 ${DATA} is not allowed in companies.beta.name',
      '4:29 ${BOX_USER} is not allowed in companies.beta.acknowledge.subject',
      '5:25 ${BOX_USER} is not allowed in companies.beta.notify[0].address',
      '8:32 ${BOX_USER} is not allowed in routes[0].match.from',
      '8:63 ${SMTP_HOST} is not allowed in routes[0].set.tags[0]',
    ]);
  });

  it("a variable a secret field uses is refused in a non-secret field, in any file", () => {
    const companies = 'companies:\n  beta:\n    contracts: { main: { inbound: [beta-pop] } }\nmailboxes:\n  beta-out:\n    auth: { user: "${BETA_POP_PASS}", passwordFile: /run/secrets/beta-out }\n    outbound: { host: "smtp.beta.example", from: { address: desk@beta.example } }\n';
    const r = load(companies);
    expect(r.problems.map(formatProblem)).toEqual([
      'companies.yaml:6:19: error: ${BETA_POP_PASS} is used in the secret field mailboxes.beta-pop.auth.password, so it is not allowed in mailboxes.beta-out.auth.user, which is not secret (its value would be shown)',
    ]);
    expect(JSON.stringify(r.problems)).not.toContain(SECRET);
  });
});

describe('the schema marks the fields', () => {
  it('every x-interpolate field is a string or a port (integer 1–65535), and no secret field is marked twice', () => {
    const { nodes } = markedFields(schema);
    expect(nodes.length).toBeGreaterThan(10);
    for (const { name, node } of nodes) {
      const port = node.type === 'integer' && node.minimum === 1 && node.maximum === 65535;
      expect(node.type === 'string' || port, `${name}: ${JSON.stringify(node)}`).toBe(true);
      expect(node['x-secret'], name).toBeUndefined();
    }
  });

  it('the marks resolve through $ref, allOf and maps of ids', () => {
    expect(fieldPolicy(schema, ['mailboxes', 'x', 'outbound', 'host'])).toEqual({ kind: 'operator', integer: false });
    expect(fieldPolicy(schema, ['defaults', 'outbound', 'port'])).toEqual({ kind: 'operator', integer: true });
    expect(fieldPolicy(schema, ['mailboxes', 'x', 'auth', 'oauth2', 'clientSecret']).kind).toBe('secret');
    expect(fieldPolicy(schema, ['server', 'apiTokens', 0, 'token']).kind).toBe('secret');
    expect(fieldPolicy(schema, ['companies', 'x', 'outbound', 'from', 'name']).kind).toBe('refused');
    expect(fieldPolicy(schema, ['no', 'such', 'field']).kind).toBe('refused');
  });
});
