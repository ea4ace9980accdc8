// Unit tests for the pure parts of IMAP sync planning: batching and the compact UID sets sent to
// the server.
import { describe, expect, it } from 'vitest';
import { batches, uidSet } from '../../src/inbound/imap-plan.js';

describe('batches', () => {
  const n = (k: number) => Array.from({ length: k }, (_, i) => i + 1);

  it('cuts into batches of at most size, keeping every item once and in order', () => {
    const out = batches(n(1234), 500);
    expect(out.map((b) => b.length)).toEqual([500, 500, 234]);
    expect(out.flat()).toEqual(n(1234));
    expect(batches([], 500)).toEqual([]);
    expect(batches([7], 500)).toEqual([[7]]);
  });
});

describe('uidSet', () => {
  it('compacts runs and sorts', () => {
    expect(uidSet([7, 1, 3, 2, 9, 8, 20])).toBe('1:3,7:9,20');
    expect(uidSet([5])).toBe('5');
  });
});
