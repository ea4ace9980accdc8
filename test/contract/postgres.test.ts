// Why this file exists: the store contract suite on the PostgreSQL store (store.driver: postgres),
// against a real PostgreSQL started once for this file; each test gets a fresh schema.
import { afterAll, beforeAll } from 'vitest';
import { openPostgresStores, type PostgresStores } from '../../src/store/postgres/stores.js';
import { startPostgres, type PostgresPeer } from '../peers/postgres.js';
import { storeContract } from './store-contract.js';

let pg: PostgresPeer;
let n = 0;
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(async () => {
  await pg?.destroy();
});

storeContract({
  name: 'postgres',
  async fresh() {
    return openPostgresStores({ url: pg.url(), schema: `contract_${++n}`, poolMax: 4 });
  },
  async reopen(s) {
    const { schema } = s as PostgresStores;
    await s.close();
    return openPostgresStores({ url: pg.url(), schema, poolMax: 4 });
  },
  async takeOver(s, mailbox) {
    return (s as PostgresStores).acquireLease(mailbox, 'contract-newer-owner', 60_000);
  },
});
