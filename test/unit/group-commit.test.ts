// Why this file exists: the one group-commit primitive: changes made together share a cycle, a waiter
// resolves only after a cycle that began after it, and a failed cycle stops the writer for good.
import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/store/group-commit.js';

describe('GroupCommit', () => {
  it('waiters of one tick share one cycle; a waiter during a cycle gets the next one', async () => {
    let written = 0;
    let cycles = 0;
    let release!: () => void;
    let state = 0;
    const gc = new GroupCommit(async () => {
      const snap = state;
      cycles++;
      if (cycles === 1) await new Promise<void>((r) => (release = r));
      else await new Promise((r) => setImmediate(r));
      written = snap;
    });
    state = 1;
    const a = Promise.all([gc.wait(), gc.wait(), gc.wait()]);
    await new Promise((r) => setImmediate(r));
    state = 2;
    let bDone = false;
    const b = gc.wait().then(() => (bDone = true));
    release();
    await a;
    expect(written).toBe(1);
    expect(bDone).toBe(false);
    await b;
    expect(written).toBe(2);
    expect(cycles).toBe(2);
    expect(gc.waitersServed).toBe(4);
  });

  it('fail-stop: the failed cycle\'s waiters and every later one reject, nothing is retried', async () => {
    let calls = 0;
    const gc = new GroupCommit(async () => {
      calls++;
      throw new Error('EIO');
    }, { brokenError: (c) => new Error(`broken: ${(c as Error).message}`) });
    await expect(gc.wait()).rejects.toThrow('EIO');
    await expect(gc.wait()).rejects.toThrow('broken: EIO');
    gc.kick();
    await gc.idle();
    expect(calls).toBe(1);
  });

  it('kick and pending work run cycles without waiters; idle waits for them', async () => {
    let todo = 3;
    const gc = new GroupCommit(async () => void todo--, { pending: () => todo > 0 });
    gc.kick();
    await gc.idle();
    expect(todo).toBe(0);
  });
});
