// The fleet's connection schedule (pure): logins per host no faster than the rate after the burst,
// a start-up spread that only a large batch gets, and stable phases that keep periodic syncs apart.
import { describe, expect, it } from 'vitest';
import { nextTickDelayMs, phaseOf, reserveLogin, startDelayMs, type LoginBucket } from '../../src/inbound/pacing.js';
import { LoginLimiter } from '../../src/inbound/login-limiter.js';

const pacing = { loginsPerSecond: 10, loginBurst: 3, startSpreadMs: 60_000 };

/** Login start times of n mailboxes asking at `now` (ms, relative). */
function schedule(n: number, p = pacing, now = 0): number[] {
  let b: LoginBucket | undefined;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = reserveLogin(b, now, p);
    b = r.bucket;
    out.push(now + r.waitMs);
  }
  return out;
}

describe('reserveLogin: a token bucket per host', () => {
  it('lets the burst go at once, then one login per 1/rate', () => {
    expect(schedule(6)).toEqual([0, 0, 0, 100, 200, 300]);
  });

  it('never exceeds the rate over any window past the burst: 1,000 logins at 10/s take 99.7 s', () => {
    const t = schedule(1000);
    expect(t[999]).toBe((1000 - 3) * 100);
    for (let i = 3; i < t.length; i++) expect(t[i]! - t[i - 1]!).toBe(100);
  });

  it('refills while idle: after a quiet spell the burst is available again', () => {
    let b: LoginBucket | undefined;
    for (let i = 0; i < 5; i++) b = reserveLogin(b, 0, pacing).bucket;
    expect(reserveLogin(b, 10_000, pacing).waitMs).toBe(0);
    // but not before: right after the burst the next one waits its turn
    expect(reserveLogin(b, 0, pacing).waitMs).toBe(300);
  });

  it('a reconnect after an error takes its turn behind the logins already waiting', () => {
    const t = schedule(4, { ...pacing, loginBurst: 1 });
    expect(t).toEqual([0, 100, 200, 300]);
  });
});

describe('LoginLimiter: one bucket per server host', () => {
  it('hosts do not share a bucket; names are case-insensitive', async () => {
    let now = 0;
    const l = new LoginLimiter(() => ({ loginsPerSecond: 1000, loginBurst: 1 }), () => now);
    const signal = new AbortController().signal;
    expect(await l.acquire('imap.a.example', signal)).toBe(0);
    expect(await l.acquire('imap.b.example', signal)).toBe(0);
    expect(await l.acquire('IMAP.A.example', signal)).toBe(1);
    now = 10;
    expect(await l.acquire('imap.a.example', signal)).toBe(0);
  });

  it('reads the rate at each login (a reload applies to the next one)', async () => {
    let rate = 1000;
    const l = new LoginLimiter(() => ({ loginsPerSecond: rate, loginBurst: 1 }), () => 0);
    const signal = new AbortController().signal;
    await l.acquire('h', signal);
    rate = 500;
    const a = await l.acquire('h', signal);
    expect((await l.acquire('h', signal)) - a).toBe(2);
  });
});

describe('startDelayMs: a batch spreads its first logins', () => {
  it('a few mailboxes (within the burst) start at once', () => {
    for (const id of ['a', 'b', 'c']) expect(startDelayMs(id, 3, pacing)).toBe(0);
  });

  it('a large batch spreads over what the rate needs, capped at startSpread, stably', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `mb-${i}`);
    const delays = ids.map((id) => startDelayMs(id, 1000, pacing));
    expect(Math.max(...delays)).toBeLessThanOrEqual(60_000);
    expect(Math.max(...delays)).toBeGreaterThan(55_000);
    // about uniform: no second of the window holds more than a few times its share (1000/60 ≈ 17)
    const perSecond = new Map<number, number>();
    for (const d of delays) perSecond.set(Math.floor(d / 1000), (perSecond.get(Math.floor(d / 1000)) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBeLessThan(45);
    expect(ids.map((id) => startDelayMs(id, 1000, pacing))).toEqual(delays);
    // a window shorter than the cap when the rate is high
    expect(Math.max(...ids.map((id) => startDelayMs(id, 1000, { ...pacing, loginsPerSecond: 100 })))).toBeLessThanOrEqual(9_970);
  });
});

describe('phases: periodic syncs of a fleet do not line up', () => {
  it('phaseOf is stable and in [0, 1)', () => {
    expect(phaseOf('support')).toBe(phaseOf('support'));
    for (let i = 0; i < 100; i++) {
      const p = phaseOf(`m${i}`);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(1);
    }
  });

  it('wakes at the mailbox own tick, whatever the sync took; never sooner than half an interval', () => {
    const interval = 60_000;
    const phase = 0.25; // ticks at 15 s, 75 s, 135 s, ...
    expect(nextTickDelayMs(0, interval, phase)).toBe(75_000); // 15 s is under half an interval away
    expect(nextTickDelayMs(14_000, interval, phase)).toBe(61_000);
    expect(nextTickDelayMs(20_000, interval, phase)).toBe(55_000);
    expect(nextTickDelayMs(75_000 + 3_000, interval, phase)).toBe(57_000); // a 3 s sync does not shift the slot
    for (let now = 0; now < 200_000; now += 777) {
      const d = nextTickDelayMs(now, interval, phase);
      expect(d).toBeGreaterThanOrEqual(interval / 2);
      expect(d).toBeLessThan(1.5 * interval);
      expect((now + d - 15_000) % interval).toBe(0);
    }
  });

  it('1,000 mailboxes that synced in the same second wake spread over the interval', () => {
    const interval = 60_000;
    const wakes = Array.from({ length: 1000 }, (_, i) => (1_000 + nextTickDelayMs(1_000, interval, phaseOf(`mb-${i}`))) % interval);
    const perSecond = new Map<number, number>();
    for (const w of wakes) perSecond.set(Math.floor(w / 1000), (perSecond.get(Math.floor(w / 1000)) ?? 0) + 1);
    expect(perSecond.size).toBeGreaterThan(55);
    expect(Math.max(...perSecond.values())).toBeLessThan(45);
  });
});
