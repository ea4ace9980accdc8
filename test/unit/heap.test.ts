// Unit tests for the daemon's heap growing factor: set by default, never over the operator's choice.
import { describe, expect, it } from 'vitest';
import { DEFAULT_HEAP_GROWING_PERCENT, heapGrowingFlag } from '../../src/daemon/heap.js';

describe('heapGrowingFlag', () => {
  it('sets the default factor when the operator chose none', () => {
    expect(heapGrowingFlag([], undefined)).toBe(`--heap-growing-percent=${DEFAULT_HEAP_GROWING_PERCENT}`);
    expect(heapGrowingFlag(['--enable-source-maps'], '--max-old-space-size=2048')).toBe(`--heap-growing-percent=${DEFAULT_HEAP_GROWING_PERCENT}`);
    expect(heapGrowingFlag([], '', 30)).toBe('--heap-growing-percent=30');
  });

  it('leaves a factor given on the node command line or in NODE_OPTIONS alone (either spelling)', () => {
    expect(heapGrowingFlag(['--heap-growing-percent=100'], undefined)).toBeNull();
    expect(heapGrowingFlag(['--heap_growing_percent=20'], undefined)).toBeNull();
    expect(heapGrowingFlag([], '--max-old-space-size=512 --heap-growing-percent=80')).toBeNull();
  });
});
