// Secrets never leak: a distinctive value is planted through the environment into every secret field
// (password, clientSecret, refreshToken, API token, webhook secret), and every output path is grepped
// for it: check (text, json), explain, diff, the snapshot serialised, every Secret stringified, the
// problems of a broken config that has the secret in the wrong fields, and the daemon's logs and HTTP.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { diffSnapshots, formatChange } from '../../src/config/diff.js';
import { explainMailbox, explainOutbound, formatExplanation } from '../../src/config/explain.js';
import { loadConfig } from '../../src/config/load.js';
import { formatProblem } from '../../src/config/problems.js';
import { SECRET_FIELDS } from '../../src/config/resolve.js';
import { loadSchema } from '../../src/config/schema.js';
import { readSecret, REDACTED, Secret } from '../../src/config/secret.js';
import type { Snapshot } from '../../src/config/snapshot.js';
import { ConfigInvalidError, Daemon } from '../../src/daemon/daemon.js';
import { main } from '../../src/main.js';
import { createLogger } from '../../src/observability/logger.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CONFIG = 'test/fixtures/config/secrets';
const BROKEN = 'test/fixtures/config/secrets-broken';
const PLANTED = 'S3cr3t-planted-7f9a';

/** One distinct planted value per variable (all start with PLANTED, so one grep finds any of them). */
const VARS = ['PORTAL_API_TOKEN', 'DEFAULT_SMTP_PASSWORD', 'ERP_WEBHOOK_SECRET', 'FILIAL_SMTP_PASSWORD', 'PW_BOX_PASSWORD', 'OAUTH_CLIENT_SECRET', 'OAUTH_REFRESH_TOKEN', 'OPAQUE_VALUE'];
const ENV: Record<string, string> = Object.fromEntries(VARS.map((v) => [v, `${PLANTED}-${v.toLowerCase().replace(/_/g, '-')}`]));

const temps: string[] = [];
beforeAll(() => process.chdir(ROOT));
afterEach(() => vi.unstubAllEnvs());
afterAll(async () => {
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

function stubSecrets() {
  for (const [k, v] of Object.entries(ENV)) vi.stubEnv(k, v);
}

async function run(...argv: string[]) {
  const out: string[] = [];
  const code = await main(argv, (s) => out.push(s), (s) => out.push(s));
  return { code, text: out.join('\n') };
}

function expectClean(text: string, what: string) {
  expect(text.length, `${what} printed something`).toBeGreaterThan(0);
  expect(text.includes(PLANTED), `${what} leaks the secret:\n${text}`).toBe(false);
}

/** Every Secret object reachable from a value (Maps included). */
function secretsIn(value: unknown, seen = new Set<unknown>()): Secret[] {
  if (value instanceof Secret) return [value];
  if (typeof value !== 'object' || value === null || seen.has(value)) return [];
  seen.add(value);
  const children = value instanceof Map ? [...value.values()] : Object.values(value);
  return children.flatMap((c) => secretsIn(c, seen));
}

async function loadPlanted(dir = CONFIG): Promise<Snapshot> {
  const r = await loadConfig(dir, { env: ENV });
  expect(r.problems.map(formatProblem)).toEqual([]);
  return r.snapshot!;
}

describe('the secret fields', () => {
  it('SECRET_FIELDS equals the property names marked "x-secret": true in the schema', () => {
    const marked = new Set<string>();
    const walk = (node: unknown) => {
      if (typeof node !== 'object' || node === null) return;
      const props = (node as { properties?: Record<string, unknown> }).properties;
      for (const [name, p] of Object.entries(props ?? {})) if ((p as Record<string, unknown>)['x-secret'] === true) marked.add(name);
      Object.values(node).forEach(walk);
    };
    walk(loadSchema());
    expect([...marked].sort()).toEqual([...SECRET_FIELDS].sort());
  });

  it('every planted value is really in the snapshot, sealed in a Secret', async () => {
    const snap = await loadPlanted();
    const revealed = new Set(secretsIn(snap).map((s) => s.reveal()));
    // All but OPAQUE_VALUE, which only the broken config uses.
    expect([...revealed].sort()).toEqual(VARS.filter((v) => v !== 'OPAQUE_VALUE').map((v) => ENV[v]).sort());
    const pw = snap.mailboxes['pw-box']!.auth!.password;
    expect(pw?.kind === 'value' && pw.secret.reveal()).toBe(ENV.PW_BOX_PASSWORD);
    expect(snap.server.apiTokens[0]!.token.kind).toBe('value');
    expect(snap.webhooks.erp!.secret?.kind).toBe('value');
    expect((await readSecret(snap.mailboxes['oauth-box']!.auth!.oauth2!.refreshToken!)).reveal()).toBe(ENV.OAUTH_REFRESH_TOKEN);
  });
});

describe('no output prints a secret', () => {
  it('the snapshot serialised: JSON.stringify, util.inspect, String() of every Secret', async () => {
    const snap = await loadPlanted();
    expectClean(JSON.stringify(snap), 'JSON.stringify(snapshot)');
    expectClean(inspect(snap, { depth: null, showHidden: true, getters: true }), 'util.inspect(snapshot)');
    expectClean(inspect(snap.config, { depth: null }), 'util.inspect(snapshot.config)');
    const secrets = secretsIn(snap);
    expect(secrets.length).toBeGreaterThanOrEqual(7);
    for (const s of secrets) {
      for (const [how, text] of [
        ['String()', String(s)],
        ['template', `${s}`],
        ['concatenation', '' + (s as unknown as string)],
        ['JSON', JSON.stringify({ s })],
        ['inspect', inspect(s, { showHidden: true })],
        ['Object.keys', JSON.stringify(Object.entries(s))],
        ['spread', JSON.stringify({ ...s })],
        ['structuredClone', inspect(structuredClone(s), { showHidden: true })],
      ] as const) {
        expectClean(text, `${how} of a Secret`);
        if (how === 'String()' || how === 'template') expect(text).toBe(REDACTED);
      }
    }
  });

  it('check, in text and json', async () => {
    stubSecrets();
    for (const format of ['text', 'json']) {
      const r = await run('check', '--config', CONFIG, '--format', format);
      expect(r.code).toBe(0);
      expectClean(r.text, `check --format ${format}`);
    }
  });

  it('explain: companies (mailbox pick, password override, contract, workflow) and mailboxes', async () => {
    stubSecrets();
    const cases = [
      ['--company', 'acme'],
      ['--company', 'acme-filial'],
      ['--company', 'acme', '--contract', 'acme-2026'],
      ['--company', 'acme', '--kind', 'system'],
      ['--company', 'acme', '--mailbox', 'pw-box'],
      ['--mailbox', 'pw-box'],
      ['--mailbox', 'oauth-box'],
    ];
    for (const args of cases) {
      const r = await run('explain', '--config', CONFIG, ...args);
      expect(r.code, args.join(' ')).toBe(0);
      expectClean(r.text, `explain ${args.join(' ')}`);
    }
    // The secret fields are there, shown redacted.
    const filial = await run('explain', '--config', CONFIG, '--company', 'acme-filial');
    expect(filial.text).toMatch(/auth\.password\s+<redacted>\s+company acme-filial/);
    const oauth = await run('explain', '--config', CONFIG, '--company', 'acme');
    expect(oauth.text).toMatch(/auth\.oauth2\.clientSecret\s+<redacted>/);
    expect(oauth.text).toMatch(/auth\.oauth2\.refreshToken\s+<redacted>/);
    const pw = await run('explain', '--config', CONFIG, '--mailbox', 'pw-box');
    expect(pw.text).toMatch(/auth\.method\s+password <redacted>/);
  });

  it('explain as data (the pure functions behind the CLI)', async () => {
    const snap = await loadPlanted();
    for (const e of [
      explainOutbound(snap, { company: 'acme-filial' }),
      explainOutbound(snap, { company: 'acme', contract: 'acme-2026' }),
      explainOutbound(snap, {}),
      explainMailbox(snap, 'pw-box')!,
      explainMailbox(snap, 'oauth-box')!,
    ]) {
      expectClean(JSON.stringify(e), 'explanation JSON');
      expectClean(formatExplanation(e), 'explanation text');
    }
  });

  it('diff, in text and json, including a changed secret', async () => {
    stubSecrets();
    for (const format of ['text', 'json']) {
      for (const against of [CONFIG, 'config/']) {
        const r = await run('diff', '--config', CONFIG, '--against', against, '--format', format);
        expect(r.code).toBe(0);
        expectClean(r.text, `diff --against ${against} --format ${format}`);
      }
    }
    const before = await loadPlanted();
    const after = (await loadConfig(CONFIG, { env: { ...ENV, PW_BOX_PASSWORD: `${PLANTED}-rotated` } })).snapshot!;
    const changes = diffSnapshots(before, after);
    expect(changes.map(formatChange)).toEqual(['~ mailbox pw-box changed: auth.password, outbound.auth.password']);
    expectClean(JSON.stringify(changes) + changes.map(formatChange).join('\n'), 'diffSnapshots');
  });

  it('problems of a broken config with the secret in the wrong fields never echo it', async () => {
    const r = await loadConfig(BROKEN, { env: ENV });
    expect(r.snapshot).toBeNull();
    const lines = r.problems.map(formatProblem);
    expect(lines.length).toBeGreaterThanOrEqual(15);
    expectClean(lines.join('\n'), 'problems');
    expectClean(JSON.stringify(r.problems), 'problems as JSON');
    // The messages still say what is wrong and where, without the value: a placeholder where none may
    // stand is refused unread; an operator field may not take a variable that a secret field uses.
    const ALLOWED = 'interpolation is allowed only in secret fields (clientSecret, password, refreshToken, secret, token) and in apiUrl, caFile, clientId, clientSecretFile, host, listen, passwordFile, path, port, publicUrl, refreshTokenFile, secretFile, serviceAccountKeyFile, tenantId, tokenFile, tokenUrl, url, urlFile, user';
    expect(lines).toEqual(
      expect.arrayContaining([
        `${BROKEN}/mailroom.yaml:7:11: error: \${DEFAULT_SMTP_PASSWORD} is used in the secret field defaults.outbound.auth.password, so it is not allowed in defaults.outbound.port, which is not secret (its value would be shown)`,
        `${BROKEN}/mailroom.yaml:7:11: error: defaults.outbound.port: must be integer (a \${VAR} placeholder always gives a string)`,
        `${BROKEN}/mailroom.yaml:9:22: error: \${PW_BOX_PASSWORD} is not allowed in defaults.outbound.from.address: ${ALLOWED}`,
        `${BROKEN}/mailroom.yaml:13:15: error: \${ERP_WEBHOOK_SECRET} is not allowed in schedules.office.timezone: ${ALLOWED}`,
        `${BROKEN}/mailroom.yaml:17:10: error: webhooks.erp.url: must be an http(s) URL`,
        `${BROKEN}/mailroom.yaml:21:14: error: \${OAUTH_CLIENT_SECRET} is not allowed in companies.acme.extends: ${ALLOWED}`,
        `${BROKEN}/mailroom.yaml:30:54: error: \${OAUTH_REFRESH_TOKEN} is not allowed in routes[0].match.subject: ${ALLOWED}`,
        `${BROKEN}/mailroom.yaml:33:11: error: \${PORTAL_API_TOKEN} is not allowed in routes[1].name: ${ALLOWED}`,
      ]),
    );
    // OPAQUE_VALUE has no secret-looking name: a password field uses it, so a host may not.
    expect(lines).toContain(`${BROKEN}/mailroom.yaml:27:38: error: \${OPAQUE_VALUE} is used in the secret field mailboxes.box.auth.password, so it is not allowed in mailboxes.box.inbound.host, which is not secret (its value would be shown)`);

    stubSecrets();
    for (const args of [['check', '--config', BROKEN], ['check', '--config', BROKEN, '--format', 'json'], ['explain', '--config', BROKEN, '--company', 'acme'], ['diff', '--config', BROKEN, '--against', CONFIG]]) {
      const out = await run(...args);
      expect(out.code).toBe(1);
      expectClean(out.text, args.join(' '));
    }
  });

  it('an unset or multi-line secret is reported without its value', async () => {
    const r = await loadConfig(CONFIG, { env: { ...ENV, PW_BOX_PASSWORD: `${PLANTED}\nsecond line`, OAUTH_CLIENT_SECRET: undefined } });
    expect(r.problems.map((p) => p.message)).toEqual([
      'environment variable PW_BOX_PASSWORD contains a newline; values with newlines are rejected',
      'environment variable OAUTH_CLIENT_SECRET is not set (use ${OAUTH_CLIENT_SECRET:-default} for a default)',
    ]);
    expectClean(JSON.stringify(r.problems), 'problems');
  });
});

/** A pino destination that keeps every line. */
function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

describe('the daemon never logs or serves a secret', () => {
  it('in process: start, GET /-/healthy /-/ready /metrics, stop', async () => {
    const data = await mkdtemp(join(tmpdir(), 'mailroom-secrets-'));
    temps.push(data);
    const log = capture();
    const daemon = new Daemon({
      configPath: CONFIG,
      env: { ...ENV, MAILROOM_DATA: data },
      logger: createLogger('trace', log.stream),
      listen: { host: '127.0.0.1', port: 0 },
    });
    await daemon.start();
    try {
      const { port } = daemon.http.address()!;
      const bodies: string[] = [];
      for (const path of ['/-/healthy', '/-/ready', '/metrics', '/v1/nothing-here']) {
        const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${ENV.PORTAL_API_TOKEN}` } });
        if (path !== '/v1/nothing-here') expect(res.status, path).toBe(200);
        bodies.push(`${res.status} ${[...res.headers].join(' ')} ${await res.text()}`);
      }
      expectClean(bodies.join('\n'), 'HTTP responses');
    } finally {
      await daemon.stop();
    }
    expect(log.lines.some((l) => l.includes('mailroom started'))).toBe(true);
    expectClean(log.lines.join('\n'), 'daemon logs');
  });

  it('in process: a broken config is refused without echoing the secret (error, problems, logs)', async () => {
    const log = capture();
    const daemon = new Daemon({ configPath: BROKEN, env: ENV, logger: createLogger('trace', log.stream), listen: { host: '127.0.0.1', port: 0 } });
    const err = await daemon.start().then(
      () => null,
      (e: unknown) => e,
    );
    await daemon.stop();
    expect(err).toBeInstanceOf(ConfigInvalidError);
    const e = err as ConfigInvalidError;
    expectClean(`${e.message}\n${String(e)}\n${e.stack}\n${inspect(e, { depth: null })}\n${e.problems.map(formatProblem).join('\n')}`, 'ConfigInvalidError');
    expect(log.lines.filter((l) => l.includes('config problem')).length).toBeGreaterThanOrEqual(15);
    expectClean(log.lines.join('\n'), 'daemon logs of a refused config');
  });

  it('as a process: `mailroom run` logs, serves /metrics and stops on SIGTERM without printing a secret', async () => {
    const data = await mkdtemp(join(tmpdir(), 'mailroom-secrets-'));
    temps.push(data);
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '-e', "import('./src/main.ts').then((m) => m.main(process.argv.slice(1))).then((c) => { if (typeof c === 'number') process.exitCode = c; })", 'run', '--config', CONFIG],
      { cwd: ROOT, env: { ...process.env, ...ENV, MAILROOM_DATA: data, MAILROOM_LISTEN: '127.0.0.1:0', MAILROOM_LOG_LEVEL: 'trace' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const started = await waitFor(() => output.split('\n').find((l) => l.includes('"mailroom started"')), 20_000, () => output);
      const { port } = (JSON.parse(started) as { listen: { port: number } }).listen;
      let bodies = '';
      for (const path of ['/-/healthy', '/-/ready', '/metrics']) {
        const res = await fetch(`http://127.0.0.1:${port}${path}`);
        expect(res.status, path).toBe(200);
        bodies += await res.text();
      }
      expect(bodies).toContain('mailroom_config_last_reload_successful 1');
      expectClean(bodies, 'HTTP responses of mailroom run');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(output).toContain('mailroom stopping');
    expectClean(output, 'stdout/stderr of mailroom run');
  });
});

async function waitFor<T>(probe: () => T | undefined, timeoutMs: number, context: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out; output so far:\n${context()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
