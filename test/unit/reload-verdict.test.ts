// Why this file exists: the reload verdict (pure): unchanged, recovery, invalid, emptied file, apply
// keeping listen and store as they run.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { reloadVerdict, type RunningConfig } from '../../src/daemon/reload-verdict.js';

const dir = path.resolve('config');
const load = () => loadConfig(dir, { skipEnv: true } as never);

describe('reloadVerdict', async () => {
  const loaded = await load();
  const running = (o: Partial<RunningConfig> = {}): RunningConfig => ({ snapshot: loaded.snapshot!, emptyAtApply: new Set(), fixed: { listen: { host: '127.0.0.1', port: 1 }, limits: loaded.snapshot!.server.limits, metricsListen: null, store: { driver: 'lowdb', path: '/keep' } }, lastStatus: 'applied', ...o });

  it('the same config is unchanged; after a failed reload it is a recovery', () => {
    expect(reloadVerdict(loaded, running())).toEqual({ kind: 'unchanged', hash: loaded.hash, clearsFailure: false });
    expect(reloadVerdict(loaded, running({ lastStatus: 'invalid' }))).toMatchObject({ kind: 'unchanged', clearsFailure: true });
  });

  it('a config with problems and no snapshot is invalid, with its problems', () => {
    const bad = { hash: 'x', snapshot: null, problems: [{ severity: 'error' as const, message: 'broken' }] };
    expect(reloadVerdict(bad, running())).toEqual({ kind: 'invalid', hash: 'x', problems: bad.problems });
  });

  it('a file that had settings and is now empty is refused', () => {
    const file = loaded.snapshot!.files[0]!;
    const emptied = { ...loaded, hash: 'y', problems: [{ severity: 'warning' as const, code: 'empty-file', message: 'empty', file }] };
    const v = reloadVerdict(emptied, running());
    expect(v.kind).toBe('invalid');
    expect(v.kind === 'invalid' && v.problems[0]!.code).toBe('emptied-file');
  });

  it('a changed config is applied with listen and store as they run', () => {
    const changed = { ...loaded, hash: 'z' };
    const v = reloadVerdict(changed, running());
    expect(v.kind).toBe('apply');
    if (v.kind !== 'apply') return;
    expect(v.snapshot.server.listen).toEqual({ host: '127.0.0.1', port: 1 });
    expect(v.snapshot.store).toEqual({ driver: 'lowdb', path: '/keep' });
    expect(Object.isFrozen(v.snapshot)).toBe(true);
  });
});
