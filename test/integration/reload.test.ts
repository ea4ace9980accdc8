// Hot reload against a real Dovecot: only changed mailboxes reconnect, invalid configs change
// nothing, every trigger works, removed mailboxes leave /metrics.
import { ticketStoreOf } from '../support/store-of.js';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { Daemon } from '../../src/daemon/daemon.js';
import { createLogger } from '../../src/observability/logger.js';
import { startDovecot, type Dovecot } from '../peers/dovecot.js';
import { message, waitFor, writeTestConfig } from '../support/daemon-config.js';

const TOKEN = 'reload-test-token-0123456789';
let dovecot: Dovecot;
let daemon: Daemon;
let cfg: { dir: string; dataDir: string };
let base: string;

async function editConfig(fn: (c: Record<string, any>) => void): Promise<void> {
  const file = join(cfg.dir, 'mailroom.yaml');
  const c = parse(await readFile(file, 'utf8')) as Record<string, any>;
  fn(c);
  await writeFile(file, stringify(c));
}

/** Let the watcher's reloads of earlier edits run first: a queued one would apply the next edit
 * itself, and the reload a test makes would find nothing left to change. */
async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 300)); // past the watcher's debounce
  await daemon.reload('manual');
}

beforeAll(async () => {
  dovecot = await startDovecot();
  cfg = await writeTestConfig(
    dovecot,
    [
      { id: 'stable', user: 'alice', protocol: 'imap', inbound: { idle: true, pollInterval: '60s' } },
      { id: 'changing', user: 'bob', protocol: 'imap', inbound: { idle: false } },
    ],
    { server: { listen: '127.0.0.1:0', apiTokens: [{ name: 'ops', token: TOKEN, companies: ['*'] }] } },
  );
  daemon = new Daemon({ configPath: cfg.dir, logger: createLogger('silent'), parseWorkers: 0, watchDebounceMs: 100 });
  await daemon.start();
  const a = daemon.http.address()!;
  base = `http://127.0.0.1:${a.port}`;
  await waitFor(() => daemon.supervisor!.statuses().every((s) => s.lastSuccess), 10_000, 'first polls');
});

afterAll(async () => {
  await daemon?.stop();
  await dovecot?.destroy();
});

describe('reload', () => {
  it('restarts only the changed mailbox: the other keeps its connection (Dovecot login count)', async () => {
    const aliceBefore = await dovecot.logins('alice');
    const bobBefore = await dovecot.logins('bob');
    await editConfig((c) => (c.mailboxes.changing.inbound.batchSize = 7));
    const r = await daemon.reload('manual');
    expect(r.status).toBe('applied');
    expect(r.changes).toContainEqual({ kind: 'mailbox', id: 'changing', change: 'changed', fields: ['inbound.batchSize'] });
    await waitFor(async () => (await dovecot.logins('bob')) > bobBefore, 10_000, 'bob re-login');
    // The untouched mailbox still ingests over its old connection.
    await dovecot.append('alice', message(1));
    await waitFor(() => ticketStoreOf(daemon).stats().tickets >= 1, 10_000, 'ticket via kept connection');
    expect(await dovecot.logins('alice')).toBe(aliceBefore);
  });

  it('identical content is a no-op', async () => {
    const r = await daemon.reload('manual');
    expect(r.status).toBe('unchanged');
  });

  it('an invalid config leaves the running one untouched and is reported', async () => {
    const hash = daemon.snapshot!.hash;
    const file = join(cfg.dir, 'mailroom.yaml');
    const good = await readFile(file, 'utf8');
    await writeFile(join(cfg.dir, 'broken.yaml'), 'routes:\n  - name: r1\n    match: { mailbox: nope }\n');
    try {
      const res = await fetch(`${base}/-/reload`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.status).toBe(422);
      const body = (await res.json()) as { problems: string[] };
      expect(body.problems.join('\n')).toMatch(/broken\.yaml:3:\d+: error: mailbox "nope" is not defined/);
      expect(daemon.snapshot!.hash).toBe(hash);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/^mailroom_config_last_reload_successful 0$/m);
      expect((await fetch(`${base}/-/ready`)).status).toBe(200);
      const status = (await (await fetch(`${base}/v1/status`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as any;
      expect(status.config.lastReload.status).toBe('invalid');
      expect(status.config.lastReload.problems[0]).toMatch(/broken\.yaml:3/);
    } finally {
      const { rm } = await import('node:fs/promises');
      await rm(join(cfg.dir, 'broken.yaml'));
      expect(await readFile(file, 'utf8')).toBe(good);
    }
    const revertedAt = Date.now() / 1000;
    expect((await daemon.reload('manual')).status).toBe('unchanged');
    // Back to the running config: the failure is no longer reported.
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^mailroom_config_last_reload_successful 1$/m);
    const successAt = Number(/^mailroom_config_last_reload_success_timestamp_seconds (\S+)$/m.exec(metrics)?.[1]);
    expect(successAt).toBeGreaterThanOrEqual(revertedAt);
    const status = (await (await fetch(`${base}/v1/status`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as any;
    expect(status.config.lastReload.status).toBe('unchanged');
    expect(status.config.lastReload.problems).toEqual([]);
  });

  it('an emptied config file is refused: every mailbox and the API tokens keep running', async () => {
    await settle();
    const hash = daemon.snapshot!.hash;
    const file = join(cfg.dir, 'mailroom.yaml');
    const good = await readFile(file, 'utf8');
    await writeFile(file, ''); // `: > mailroom.yaml`
    try {
      const r = await daemon.reload('manual');
      expect(r.status).toBe('invalid');
      expect(r.problems.map((p) => p.message)).toContain('no file sets version: 1 — is this the right directory?');
      expect(r.problems.some((p) => p.severity === 'warning' && p.file?.endsWith('mailroom.yaml'))).toBe(true);
      expect(daemon.snapshot!.hash).toBe(hash);
      expect(daemon.supervisor!.statuses().map((s) => s.mailbox).sort()).toEqual(['changing', 'stable']);
      expect((await fetch(`${base}/v1/status`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    } finally {
      await writeFile(file, good);
    }
    await settle();
    expect(daemon.snapshot!.hash).toBe(hash);
  });

  it('a file that had settings and is now empty is refused even when another file keeps the config valid; deleting a file applies', async () => {
    await settle();
    const extra = join(cfg.dir, 'extra.yaml');
    await writeFile(extra, 'version: 1\nschedules:\n  extra-hours: { timezone: UTC, weekly: { mon-fri: ["08:00-18:00"] } }\n');
    expect((await daemon.reload('manual')).status).toBe('applied');
    const hash = daemon.snapshot!.hash;
    const file = join(cfg.dir, 'mailroom.yaml');
    const good = await readFile(file, 'utf8');
    await writeFile(file, '# being rewritten\n');
    try {
      const r = await daemon.reload('manual');
      expect(r.status).toBe('invalid');
      expect(r.problems.find((p) => p.code === 'emptied-file')?.message).toMatch(/mailroom\.yaml had settings and is now empty: not applied/);
      expect(daemon.snapshot!.hash).toBe(hash);
      expect(daemon.supervisor!.statuses().map((s) => s.mailbox).sort()).toEqual(['changing', 'stable']);
    } finally {
      await writeFile(file, good);
    }
    await unlink(extra);
    const removed = await daemon.reload('manual');
    expect(removed.status).toBe('applied');
    expect(removed.changes.map((c) => `${c.kind}:${c.id}`)).toContain('schedule:extra-hours');
    await settle();
  });

  it('POST /-/reload answers 200 with the changes when applied', async () => {
    await settle();
    await editConfig((c) => (c.mailboxes.changing.inbound.batchSize = 8));
    const res = await fetch(`${base}/-/reload`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; hash: string; changes: unknown[]; problems: string[] };
    expect(body.status).toBe('applied');
    expect(body.changes).toEqual([{ kind: 'mailbox', id: 'changing', change: 'changed', fields: ['inbound.batchSize'] }]);
    expect(body.hash).toBe(daemon.snapshot!.hash);
    expect(body.problems.filter((p) => p.includes('error:'))).toEqual([]);
  });

  it('the reload endpoint needs a token', async () => {
    expect((await fetch(`${base}/-/reload`, { method: 'POST' })).status).toBe(401);
    expect((await fetch(`${base}/-/reload`, { method: 'POST', headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401);
  });

  it('a file change is picked up by the watcher; a removed mailbox leaves /metrics', async () => {
    // (its poller may have just been restarted: wait for its first poll)
    await waitFor(async () => /mailroom_mailbox_up\{mailbox="changing"/.test(await (await fetch(`${base}/metrics`)).text()), 10_000, 'changing polled');
    await editConfig((c) => {
      delete c.mailboxes.changing;
      c.companies.acme.contracts.main.inbound = ['stable'];
    });
    // the reload is recorded once applied (the snapshot is swapped before the pollers are stopped)
    await waitFor(() => daemon.lastReload?.changes.some((c) => c.id === 'changing' && c.change === 'removed'), 30_000, 'watcher reload');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).not.toMatch(/mailbox="changing"/);
    expect(metrics).toMatch(/mailroom_mailbox_up\{mailbox="stable",company="acme"\} 1/);
    expect(metrics).toMatch(/mailroom_config_reloads_total\{result="success"\} [1-9]/);
  });

  it('listen address changes are reported as needing a restart, not half-applied', async () => {
    const port = daemon.http.address()!.port;
    await settle();
    await editConfig((c) => (c.server.listen = '127.0.0.1:1'));
    const r = await daemon.reload('manual');
    expect(r.status).toBe('applied');
    expect(r.restartRequired).toEqual([{ kind: 'server', id: 'listen', change: 'changed', restartRequired: true, fields: ['listen.port'] }]);
    expect(daemon.http.address()!.port).toBe(port);
    const status = (await (await fetch(`${base}/v1/status`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as any;
    expect(status.config.restartRequired).toEqual(['server listen']);
  });
});
