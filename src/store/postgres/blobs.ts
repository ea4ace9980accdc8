// Why this file exists: blobs (raw messages, attachments) in PostgreSQL, content-addressed by SHA-256
// and deduplicated. A blob is a row in `blobs` (hash, length) and its bytes in `blob_chunks` rows of
// 256 KiB: a reader streams it one chunk (one small query) at a time with backpressure, never the
// whole blob in memory, and a writer sends only blobs the database does not have yet (one lookup,
// then the new ones inserted in one transaction; ON CONFLICT DO NOTHING covers a concurrent writer).
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { BlobStream } from '../port.js';
import type { Sql } from './connect.js';

export const CHUNK_BYTES = 256 * 1024;
const HASH_RE = /^[0-9a-f]{64}$/;
/** Chunk rows per INSERT statement (3 parameters each, well under the protocol's 65535). */
const ROWS_PER_INSERT = 64;

export interface Blobs {
  put(items: (Uint8Array | string)[]): Promise<string[]>;
  open(hash: string): Promise<BlobStream | null>;
  read(hash: string): Promise<Buffer | null>;
}

export function blobs(sql: Sql): Blobs {
  return {
    async put(items) {
      const bufs = items.map((x) => (typeof x === 'string' ? Buffer.from(x, 'utf8') : Buffer.from(x.buffer, x.byteOffset, x.byteLength)));
      const hashes = bufs.map((b) => createHash('sha256').update(b).digest('hex'));
      const unique = new Map<string, Buffer>();
      hashes.forEach((h, i) => unique.set(h, bufs[i]!));
      if (unique.size === 0) return hashes;
      const known = await sql<{ hash: string }[]>`SELECT hash FROM blobs WHERE hash = ANY(${[...unique.keys()]}::text[])`;
      for (const r of known) unique.delete(r.hash);
      if (unique.size === 0) return hashes;
      await sql.begin(async (tx) => {
        const fresh = await tx<{ hash: string }[]>`
          INSERT INTO blobs (hash, length, chunk_size)
          SELECT hash, length, ${CHUNK_BYTES} FROM json_to_recordset(${JSON.stringify([...unique].map(([hash, b]) => ({ hash, length: b.length })))}::text::json) AS x(hash text, length bigint)
          ON CONFLICT (hash) DO NOTHING RETURNING hash`;
        const rows: { hash: string; no: number; data: Buffer }[] = [];
        for (const { hash } of fresh) {
          const b = unique.get(hash)!;
          for (let no = 0, off = 0; off < b.length; no++, off += CHUNK_BYTES) rows.push({ hash, no, data: b.subarray(off, off + CHUNK_BYTES) });
        }
        const inserts: Promise<unknown>[] = [];
        for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
          const part = rows.slice(i, i + ROWS_PER_INSERT);
          inserts.push(tx`INSERT INTO blob_chunks ${tx(part, 'hash', 'no', 'data')}`);
        }
        await Promise.all(inserts);
      });
      return hashes;
    },

    async open(hash) {
      if (!HASH_RE.test(hash)) return null;
      const [row] = await sql<{ length: string }[]>`SELECT length FROM blobs WHERE hash = ${hash}`;
      if (!row) return null;
      const length = Number(row.length);
      let no = 0;
      let sent = 0;
      const stream = new Readable({
        highWaterMark: CHUNK_BYTES,
        read() {
          if (sent >= length) {
            this.push(null);
            return;
          }
          sql<{ data: Buffer }[]>`SELECT data FROM blob_chunks WHERE hash = ${hash} AND no = ${no}`.then(
            ([c]) => {
              if (!c) {
                this.destroy(new Error(`blob ${hash}: chunk ${no} missing`));
                return;
              }
              no++;
              sent += c.data.length;
              this.push(c.data);
              if (sent >= length) this.push(null);
            },
            (e: unknown) => this.destroy(e as Error),
          );
        },
      });
      return { length, stream };
    },

    async read(hash) {
      if (!HASH_RE.test(hash)) return null;
      const rows = await sql<{ length: string; data: Buffer | null }[]>`
        SELECT b.length, c.data FROM blobs b LEFT JOIN blob_chunks c ON c.hash = b.hash WHERE b.hash = ${hash} ORDER BY c.no`;
      if (rows.length === 0) return null;
      return Buffer.concat(rows.flatMap((r) => (r.data ? [r.data] : [])));
    },
  };
}
