// Why this file exists: the one place that turns `store:` in the config into a store behind the port.
// The embedded store (driver lowdb) is the default; other drivers plug in here.
import type { Snapshot } from '../config/snapshot.js';
import { openEmbeddedStores, type EmbeddedOptions } from './embedded/stores.js';
import type { Stores } from './port.js';

export interface OpenStoresOptions {
  embedded?: EmbeddedOptions;
}

export async function openStores(config: Snapshot['store'], opts: OpenStoresOptions = {}): Promise<Stores> {
  switch (config.driver) {
    case 'lowdb':
      return openEmbeddedStores(config.path, opts.embedded);
    default:
      throw new Error(`store.driver ${JSON.stringify((config as { driver: unknown }).driver)} is not supported`);
  }
}
