// A reload costs what changed, not the config's size: an unchanged mailbox is the running one's very
// object after a reload (its poller is kept without even being compared), and loading a config of
// thousands of entries is not quadratic in them.
import { describe, expect, it } from 'vitest';
import { loadFromSources } from '../../src/config/load.js';
import type { Snapshot } from '../../src/config/snapshot.js';
import { reloadVerdict, type RunningConfig } from '../../src/daemon/reload-verdict.js';
import { Supervisor, type SupervisorDeps } from '../../src/daemon/supervisor.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';

function config(n: number, opts: { changed?: number; comment?: string; disabled?: boolean } = {}): string {
  const lines = ['version: 1', 'companies:'];
  for (let i = 0; i < n; i++) lines.push(`  c${i}:`, '    contracts:', `      main: { inbound: [mb-${i}] }`);
  lines.push('mailboxes:');
  for (let i = 0; i < n; i++)
    lines.push(
      `  mb-${i}:`,
      ...(opts.disabled ? ['    enabled: false'] : []),
      `    inbound: { protocol: imap, host: imap${i % 7}.example.com, pollInterval: ${i === opts.changed ? '61s' : '60s'} }`,
      `    auth: { user: u${i}, passwordFile: /run/secrets/pw }`,
    );
  return lines.join('\n') + '\n' + (opts.comment ? `# ${opts.comment}\n` : '');
}

const load = (text: string) => {
  const r = loadFromSources([{ name: 'mailroom.yaml', absolute: '/cfg/mailroom.yaml', text }], { env: {} });
  expect(r.problems.filter((p) => p.severity === 'error')).toEqual([]);
  return r;
};
const running = (snapshot: Snapshot): RunningConfig => ({ snapshot, emptyAtApply: new Set(), fixed: { listen: snapshot.server.listen, limits: snapshot.server.limits, metricsListen: null, store: snapshot.store }, lastStatus: 'applied' });

describe('reload: unchanged mailboxes are not touched', () => {
  it('the applied snapshot holds the running objects of unchanged mailboxes, a new one for the changed', () => {
    const before = load(config(50)).snapshot!;
    const v = reloadVerdict(load(config(50, { changed: 7 })), running(before));
    if (v.kind !== 'apply') throw new Error(`expected apply, got ${v.kind}`);
    expect(v.changes).toEqual([{ kind: 'mailbox', id: 'mb-7', change: 'changed', fields: ['inbound.pollIntervalMs'] }]);
    for (let i = 0; i < 50; i++) {
      if (i === 7) expect(v.snapshot.mailboxes['mb-7']).not.toBe(before.mailboxes['mb-7']);
      else expect(v.snapshot.mailboxes[`mb-${i}`]).toBe(before.mailboxes[`mb-${i}`]);
    }
    expect(v.snapshot.mailboxes['mb-7']!.inbound!.pollIntervalMs).toBe(61_000);
    expect(Object.isFrozen(v.snapshot.mailboxes)).toBe(true);
    // a mailbox that left is gone, one that came is there
    const w = reloadVerdict(load(config(49)), running(before));
    expect(w.kind === 'apply' && Object.keys(w.snapshot.mailboxes)).toHaveLength(49);
  });

  it('the supervisor keeps what it runs: unchanged mailboxes kept, the changed one restarted', async () => {
    // Disabled mailboxes run no poller (no store, no network): the supervisor's bookkeeping only.
    const metrics = createMetrics();
    const before = load(config(20, { disabled: true })).snapshot!;
    const sup = new Supervisor({ metrics, log: createLogger('silent'), snapshot: () => before } as unknown as SupervisorDeps);
    expect((await sup.apply(before)).started).toEqual([]);
    const v = reloadVerdict(load(config(20, { disabled: true, comment: 'touched' })), running(before));
    expect(v.kind === 'apply' && v.changes).toEqual([]);
    expect(await sup.apply((v as { snapshot: Snapshot }).snapshot)).toEqual({ started: [], stopped: [], restarted: [], kept: [] });
  });

  it('loading is linear in the entries: 2,000 companies and mailboxes load in seconds, not minutes', () => {
    // Merging copied every entry's source locations by scanning all of the file's: quadratic
    // (about 7 s for 1,000 + 1,000 on the test machine, four times that for twice as many).
    const text = config(2000);
    const t0 = performance.now();
    const r = load(text);
    const ms = performance.now() - t0;
    expect(Object.keys(r.snapshot!.mailboxes)).toHaveLength(2000);
    expect(r.snapshot!.locations.get('/mailboxes/mb-1999/inbound/pollInterval')).toBeDefined();
    expect(ms).toBeLessThan(8_000); // generous: a loaded machine, not the algorithm
  }, 60_000);
});
