// Why this file exists: the production image, proved by proxy. No container engine runs where the
// tests run, so this rebuilds in a temp dir the layout the Dockerfile's runtime stage builds
// (package.json + lock, `npm ci --omit=dev --ignore-scripts`, compiled dist/, bin/, schemas/,
// config/), copies config/ into a read-only directory as the image's /etc/mailroom, and runs
// `node bin/mailroom.js run --config <dir>` as a non-root user (nobody when the tests run as root)
// with only a data dir writable, MAILROOM_LISTEN / MAILROOM_DATA set as the image sets them (here
// to a free loopback port and a temp dir). It then checks the contract the image, its HEALTHCHECK
// and the Kubernetes probes rely on: /-/healthy answers 200, /-/ready turns 200 once the example
// config is applied, /metrics answers, and SIGTERM ends the process with exit code 0.
// Slow (npm ci from the registry): the whole file gets a 180 s timeout.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const TIMEOUT = 180_000;
vi.setConfig({ testTimeout: TIMEOUT, hookTimeout: TIMEOUT });

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Run a command to completion; rejects with its output when it fails. */
function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: process.env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      code === 0 ? resolve(output) : reject(new Error(`${cmd} ${args.join(' ')} failed (${code ?? signal}):\n${output}`)),
    );
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** uid/gid of `nobody` from /etc/passwd (65534 when it is not listed). */
function nobody(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('nobody:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  return { uid: Number(uid ?? 65534), gid: Number(gid ?? 65534) };
}

/** ${VAR} references in the config files: a deployment sets them, so the test gives placeholders. */
function envReferences(dir: string): string[] {
  const names = new Set<string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (/\.ya?ml$/.test(e.name)) for (const m of readFileSync(join(d, e.name), 'utf8').matchAll(/\$\{([A-Za-z_]\w*)(?::[-?][^}]*)?\}/g)) names.add(m[1]!);
    }
  };
  walk(dir);
  return [...names];
}

function waitForExit(child: ChildProcess, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'timeout'> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), ms);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

describe('production layout (what the Dockerfile builds), run as a non-root user', () => {
  const isRoot = process.getuid?.() === 0;
  const user = isRoot ? nobody() : undefined;
  let tmp = '';
  let app = '';
  let configDir = '';
  let dataDir = '';
  let port = 0;
  let daemon: ChildProcess | undefined;
  let output = '';
  const log = () => `daemon output (last 4 kB):\n${output.slice(-4096)}`;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'mailroom-layout-'));
    chmodSync(tmp, 0o755); // mkdtemp makes it 0700; the non-root user must reach app/ and config/
    app = join(tmp, 'app');
    configDir = join(tmp, 'etc-mailroom');
    dataDir = join(tmp, 'var-lib-mailroom');

    // Runtime stage: package files, production deps without scripts, bin/, schemas/, config/ ...
    mkdirSync(app);
    for (const file of ['package.json', 'package-lock.json']) cpSync(join(root, file), join(app, file));
    for (const dir of ['bin', 'schemas', 'config']) {
      if (!existsSync(join(root, dir))) throw new Error(`the Dockerfile copies ${dir}/, which does not exist`);
      cpSync(join(root, dir), join(app, dir), { recursive: true });
    }
    // ... and the build stage's dist/, compiled here straight into the layout.
    await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', join(app, 'dist')], root, TIMEOUT);
    await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], app, TIMEOUT);

    // /etc/mailroom: `COPY config /etc/mailroom`, read-only as a ConfigMap or `:ro` mount is.
    cpSync(join(root, 'config'), configDir, { recursive: true });
    await run('chmod', ['-R', 'a-w', configDir], root, 10_000);
    port = await freePort();

    // /var/lib/mailroom: the one writable place, owned by the daemon's user.
    mkdirSync(dataDir, { mode: 0o700 });
    if (user) chownSync(dataDir, user.uid, user.gid);
  }, TIMEOUT);

  afterAll(async () => {
    if (daemon && daemon.exitCode === null && daemon.signalCode === null) {
      daemon.kill('SIGKILL');
      await waitForExit(daemon, 5_000);
    }
    if (tmp) {
      if (existsSync(configDir)) await run('chmod', ['-R', 'u+w', configDir], root, 10_000).catch(() => undefined);
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('starts and answers /-/healthy with 200 within 20 s', async () => {
    const env: NodeJS.ProcessEnv = {};
    // Any other ${VAR} the example needs a deployment to set gets a placeholder ...
    for (const name of envReferences(configDir)) env[name] = `placeholder-${name.toLowerCase()}`;
    // ... and the variables the Dockerfile sets get their test values.
    Object.assign(env, {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      MAILROOM_LISTEN: `127.0.0.1:${port}`, // image: 0.0.0.0:9465
      MAILROOM_DATA: dataDir, //                image: /var/lib/mailroom
      HOME: '/nonexistent', // like the image under readOnlyRootFilesystem: no writable home
    });
    daemon = spawn(process.execPath, ['bin/mailroom.js', 'run', '--config', configDir], {
      cwd: app,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(user ?? {}),
    });
    daemon.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    daemon.stderr?.on('data', (d: Buffer) => (output += d.toString()));

    const deadline = Date.now() + 20_000;
    let status = 0;
    while (Date.now() < deadline) {
      if (daemon.exitCode !== null || daemon.signalCode !== null) {
        throw new Error(`daemon exited early (${daemon.exitCode ?? daemon.signalCode})\n${log()}`);
      }
      status = await fetch(`http://127.0.0.1:${port}/-/healthy`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(status, log()).toBe(200);
  });

  it('turns /-/ready 200 once the example config is applied, and serves /metrics', async () => {
    const deadline = Date.now() + 20_000;
    let ready = 0;
    while (Date.now() < deadline) {
      ready = await fetch(`http://127.0.0.1:${port}/-/ready`).then(
        (r) => r.status,
        () => 0,
      );
      if (ready === 200) break;
      expect([0, 503], `/-/ready answers 200 or 503\n${log()}`).toContain(ready);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(ready, log()).toBe(200);
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(metrics.status, log()).toBe(200);
    expect(metrics.headers.get('content-type') ?? '').toMatch(/^text\/plain/);
    expect(await metrics.text(), 'the config-reload alert relies on this series').toMatch(/^mailroom_config_last_reload_successful 1$/m);
  });

  it('exits with code 0 within 10 s of SIGTERM', async () => {
    expect(daemon, 'the daemon was not started').toBeDefined();
    daemon!.kill('SIGTERM');
    const result = await waitForExit(daemon!, 10_000);
    expect(result, log()).toEqual({ code: 0, signal: null });
  });
});
