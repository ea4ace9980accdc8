// Daemon lifecycle: SIGHUP reload, SIGTERM exit 0, log.level applied on reload, readiness 503 while
// starting and stopping, reload under ingest load losing and duplicating nothing, rollback when
// applying fails.
import { ticketStoreOf } from '../support/store-of.js';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse, stringify } from 'yaml';
import { Daemon } from '../../src/daemon/daemon.js';
import { Supervisor } from '../../src/daemon/supervisor.js';
import { createLogger } from '../../src/observability/logger.js';
import { startDovecot, type Dovecot } from '../peers/dovecot.js';
import { freePort } from '../peers/free-port.js';
import { message, waitFor, writeTestConfig } from '../support/daemon-config.js';
import { spawnMailroom } from '../support/daemon-process.js';
import { allTickets, makeUsers } from '../support/inbound.js';

let dovecot: Dovecot;
beforeAll(async () => {
  dovecot = await startDovecot({ users: makeUsers(['life-a', 'life-b', 'life-c', 'life-d', 'life-e']) });
});
afterAll(async () => {
  await dovecot?.destroy();
});

async function edit(dir: string, fn: (c: Record<string, any>) => void): Promise<void> {
  const file = join(dir, 'mailroom.yaml');
  const c = parse(await readFile(file, 'utf8')) as Record<string, any>;
  fn(c);
  await writeFile(file, stringify(c));
}

describe('signals', () => {
  it('SIGHUP reloads; SIGTERM stops with exit code 0', async () => {
    const port = await freePort();
    const cfg = await writeTestConfig(dovecot, [{ id: 'a', user: 'life-a', protocol: 'imap' }], { server: { listen: `127.0.0.1:${port}` } });
    const { child, output, exited } = spawnMailroom(cfg.dir, { ...process.env, MAILROOM_LOG_LEVEL: 'warn' });
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitFor(async () => (await fetch(`${base}/-/ready`).catch(() => null))?.status === 200, 20_000, 'ready');
      const hashOf = async () => /mailroom_config_info\{hash="([0-9a-f]+)"\}/.exec(await (await fetch(`${base}/metrics`)).text())?.[1];
      const before = await hashOf();
      // --no-watch: only SIGHUP can make this change take effect.
      await edit(cfg.dir, (c) => (c.mailboxes.a.inbound.batchSize = 9));
      await new Promise((r) => setTimeout(r, 700));
      expect(await hashOf()).toBe(before);
      child.kill('SIGHUP');
      await waitFor(async () => (await hashOf()) !== before, 10_000, 'reloaded hash');
      child.kill('SIGTERM');
      expect(await exited).toEqual({ code: 0, signal: null });
    } finally {
      child.kill('SIGKILL');
    }
    expect(output()).not.toMatch(/"level":"(error|fatal)"/);
  }, 40_000);

  it('log.level changed in the config applies on reload, to the pollers kept running too', async () => {
    const port = await freePort();
    const cfg = await writeTestConfig(dovecot, [{ id: 'e', user: 'life-e', protocol: 'imap' }], { server: { listen: `127.0.0.1:${port}` }, log: { level: 'warn' } });
    const { MAILROOM_LOG_LEVEL: _, ...env } = process.env; // the environment would win over the config
    const { child, output, exited } = spawnMailroom(cfg.dir, env);
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitFor(async () => (await fetch(`${base}/-/ready`).catch(() => null))?.status === 200, 20_000, 'ready');
      expect(output()).not.toMatch(/"mailroom started"/);
      await edit(cfg.dir, (c) => (c.log.level = 'info'));
      child.kill('SIGHUP');
      await waitFor(() => /"msg":"config reloaded"/.test(output()), 10_000, 'an info line after the reload');
      expect(output()).toMatch(/"from":"warn","to":"info","msg":"log level changed"/);
      // The poller of mailbox e was kept (only log.level changed); its child logger follows too.
      await dovecot.append('life-e', message(1));
      await waitFor(() => /"mailbox":"e".*"msg":"mailbox synced"/.test(output()), 10_000, 'poller info line');
      child.kill('SIGTERM');
      expect((await exited).code).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  }, 40_000);
});

describe('in process', () => {
  it('readiness is 503 while starting, until the config is applied', async () => {
    const port = await freePort();
    const cfg = await writeTestConfig(dovecot, [{ id: 'b', user: 'life-b', protocol: 'imap' }]);
    const d = new Daemon({ configPath: cfg.dir, logger: createLogger('silent'), parseWorkers: 0, watch: false, listen: { host: '127.0.0.1', port } });
    // Hold the first apply of the config: the HTTP server is up, the mailboxes are not.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const apply = Supervisor.prototype.apply;
    const spy = vi.spyOn(Supervisor.prototype, 'apply').mockImplementationOnce(async function (this: Supervisor, s) {
      await held;
      return apply.call(this, s);
    });
    const starting = d.start();
    try {
      const base = `http://127.0.0.1:${port}`;
      const first = await waitFor(() => fetch(`${base}/-/ready`).catch(() => null), 20_000, 'HTTP server up');
      expect(first.status).toBe(503);
      expect((await fetch(`${base}/-/healthy`)).status).toBe(200);
      release();
      await starting;
      expect((await fetch(`${base}/-/ready`)).status).toBe(200);
    } finally {
      release();
      spy.mockRestore();
      await starting.catch(() => undefined);
      await d.stop();
    }
  });

  it('readiness is 503 as soon as shutdown starts, health stays cheap', async () => {
    const cfg = await writeTestConfig(dovecot, [{ id: 'b', user: 'life-b', protocol: 'imap' }]);
    const d = new Daemon({ configPath: cfg.dir, logger: createLogger('silent'), parseWorkers: 0, watch: false });
    await d.start();
    const base = `http://127.0.0.1:${d.http.address()!.port}`;
    expect((await fetch(`${base}/-/ready`)).status).toBe(200);
    expect((await fetch(`${base}/-/healthy`)).status).toBe(200);
    const stopping = d.stop();
    expect(d.http.ready).toBe(false);
    await stopping;
  });

  it('reloads under ingest load lose and duplicate nothing', async () => {
    const N = 400;
    await dovecot.appendMany('life-c', Array.from({ length: N }, (_, i) => message(i, { subject: `Load ${i}` })));
    const cfg = await writeTestConfig(dovecot, [
      { id: 'loaded', user: 'life-c', protocol: 'imap', inbound: { batchSize: 20, afterFetch: 'move', moveTo: 'Done' } },
      { id: 'other', user: 'life-d', protocol: 'imap' },
    ]);
    const d = new Daemon({ configPath: cfg.dir, logger: createLogger('silent'), parseWorkers: 0, watch: false });
    await d.start();
    try {
      // Change the loaded mailbox itself several times while it ingests (its poller restarts).
      for (let i = 0; i < 4; i++) {
        await waitFor(() => ticketStoreOf(d).stats().tickets > (i * N) / 5, 20_000, 'progress');
        await edit(cfg.dir, (c) => (c.mailboxes.loaded.inbound.batchSize = 20 + i + 1));
        expect((await d.reload('manual')).status).toBe('applied');
      }
      await waitFor(() => ticketStoreOf(d).stats().tickets === N, 30_000, `${N} tickets`);
      await waitFor(async () => (await dovecot.list('life-c', 'Done')).length === N, 10_000, 'all moved');
      const tickets = await allTickets(ticketStoreOf(d));
      expect(new Set(tickets.map((t) => t.subject)).size).toBe(N);
      expect(tickets).toHaveLength(N);
      expect(await dovecot.list('life-c', 'INBOX')).toHaveLength(0);
    } finally {
      await d.stop();
    }
  }, 60_000);

  it('a failure while applying rolls back to the previous snapshot', async () => {
    const cfg = await writeTestConfig(dovecot, [{ id: 'b', user: 'life-b', protocol: 'imap' }]);
    const d = new Daemon({ configPath: cfg.dir, logger: createLogger('silent'), parseWorkers: 0, watch: false });
    await d.start();
    try {
      const hash = d.snapshot!.hash;
      const sup = d.supervisor!;
      const apply = sup.apply.bind(sup);
      let calls = 0;
      sup.apply = async (s) => {
        if (calls++ === 0) throw new Error('simulated failure while applying');
        return apply(s);
      };
      await edit(cfg.dir, (c) => (c.mailboxes.b.inbound.batchSize = 3));
      const r = await d.reload('manual');
      expect(r.status).toBe('failed');
      expect(r.error).toMatch(/simulated failure/);
      expect(d.snapshot!.hash).toBe(hash);
      expect(d.metrics.configLastReloadSuccessful).toBeDefined();
      const metrics = await d.metrics.registry.metrics();
      expect(metrics).toMatch(/^mailroom_config_last_reload_successful 0$/m);
      expect(metrics).toMatch(/mailroom_config_reloads_total\{result="failed"\} 1/);
    } finally {
      await d.stop();
    }
  });
});
