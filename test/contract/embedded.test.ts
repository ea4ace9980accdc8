// Why this file exists: the store contract suite on the embedded store (store.driver: lowdb).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { openEmbeddedStores, type EmbeddedStores } from '../../src/store/embedded/stores.js';
import { storeContract } from './store-contract.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

storeContract({
  name: 'embedded (lowdb)',
  async fresh() {
    const dir = await mkdtemp(path.join(tmpdir(), 'mailroom-contract-'));
    dirs.push(dir);
    return openEmbeddedStores(dir);
  },
  async reopen(s) {
    await s.close();
    return openEmbeddedStores((s as EmbeddedStores).path);
  },
  async takeOver() {
    return null;
  },
});
