// Why this file exists: config skew across replicas (status's cluster.configSkew, mailroom_cluster_config_hashes).
import { describe, expect, it } from 'vitest';
import { configSkew, distinctConfigHashes } from '../../src/cluster/config-skew.js';

describe('distinctConfigHashes', () => {
  it('counts the configs the live members run; a member without a hash is a kind of its own', () => {
    expect(distinctConfigHashes([])).toBe(0);
    expect(distinctConfigHashes([{ configHash: 'a' }, { configHash: 'a' }, { configHash: 'a' }])).toBe(1);
    expect(distinctConfigHashes([{ configHash: 'a' }, { configHash: 'b' }, { configHash: 'a' }])).toBe(2);
    expect(distinctConfigHashes([{ configHash: 'a' }, { configHash: null }])).toBe(2);
    expect(configSkew([{ configHash: 'a' }, { configHash: 'a' }])).toBe(false);
    expect(configSkew([{ configHash: 'a' }, { configHash: 'b' }])).toBe(true);
  });
});
