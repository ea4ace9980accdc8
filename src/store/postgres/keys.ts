// Why this file exists: the keys an install shares across replicas live in the store (store_keys,
// migration 002), written once and never changed. Today one: the fingerprint key of suspension
// records (credential-fingerprint.ts). The first writer wins (INSERT ... ON CONFLICT DO NOTHING),
// so replicas starting together, or an import racing a replica, all end up with one key.
import { randomBytes } from 'node:crypto';
import type { Q } from './connect.js';

export const FINGERPRINT_KEY = 'fingerprint';

/** The store's fingerprint key; made (32 random bytes) when there is none. */
export async function fingerprintKey(sql: Q): Promise<Buffer> {
  return (await adoptKey(sql, FINGERPRINT_KEY, randomBytes(32))).key;
}

/**
 * Store `key` as `name` unless the store has one already. `adopted`: it is now the store's key;
 * otherwise `key` is the one the store had (another writer came first), which may differ.
 */
export async function adoptKey(sql: Q, name: string, key: Buffer): Promise<{ adopted: boolean; key: Buffer }> {
  const ins = await sql<{ key: Buffer }[]>`INSERT INTO store_keys (name, key) VALUES (${name}, ${key}) ON CONFLICT (name) DO NOTHING RETURNING key`;
  if (ins.length === 1) return { adopted: true, key: ins[0]!.key };
  const [row] = await sql<{ key: Buffer }[]>`SELECT key FROM store_keys WHERE name = ${name}`;
  return { adopted: false, key: row!.key };
}
