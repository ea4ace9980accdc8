// Lane pauses: N messages failing together on a dead server (pooled connections, one outage) are one
// round: the pause does not grow 2^N and the failure count goes up by one; a later round escalates.
import { afterEach, describe, expect, it } from 'vitest';
import { Lanes } from '../../src/outbound/lanes.js';
import type { ResolvedOutbound } from '../../src/config/snapshot.js';

let lanes: Lanes | null = null;
afterEach(() => lanes?.stopAll());

const server = { host: 'smtp.example', port: 25, batchWindowMs: 0, maxPerMinute: 0 } as unknown as ResolvedOutbound;

describe('Lanes.pause', () => {
  it('failures of attempts begun before the pause belong to its round', () => {
    lanes = new Lanes({ pump: () => {}, due: () => {}, idleDrop: () => {} });
    const lane = lanes.get('k', 'mb', server);
    const t0 = Date.now() - 1000; // six sends started together
    for (let i = 0; i < 6; i++) lanes.pause(lane, 30_000 * 2 ** lane.failures, t0);
    expect(lane.failures).toBe(1);
    expect(lane.pausedUntil - Date.now()).toBeLessThanOrEqual(30_000);
    expect(lane.pausedUntil - Date.now()).toBeGreaterThan(29_000);
    // an attempt begun after that pause (the next round) escalates
    lanes.pause(lane, 30_000 * 2 ** lane.failures, Date.now() + 1);
    expect(lane.failures).toBe(2);
    expect(lane.pausedUntil - Date.now()).toBeGreaterThan(59_000);
    lanes.healthy(lane);
    expect([lane.failures, lane.pausedUntil, lane.pausedAt]).toEqual([0, 0, null]);
  });
});
