// Why this file exists: blobs (raw messages, attachments) in PostgreSQL, content-addressed by SHA-256
// and deduplicated. A blob is a row in `blobs` (hash, length) and its bytes in `blob_chunks` rows of
// 256 KiB: a reader streams it one chunk (one small query) at a time with backpressure, never the
// whole blob in memory, and a writer sends only the bytes of blobs the database does not have yet:
// in one transaction, the `blobs` rows with ON CONFLICT DO NOTHING RETURNING (the ones it inserted;
// a known one or a concurrent writer's is not), then the chunks of those as one binary COPY.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { BlobStream } from '../port.js';
import type { Sql } from './connect.js';
import { copyInto, int4, text, type CopyRow } from './copy.js';

export const CHUNK_BYTES = 256 * 1024;
const HASH_RE = /^[0-9a-f]{64}$/;

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
      await sql.begin(async (tx) => {
        const fresh = await tx<{ hash: string }[]>`
          INSERT INTO blobs (hash, length, chunk_size)
          SELECT hash, length, ${CHUNK_BYTES} FROM json_to_recordset(${JSON.stringify([...unique].map(([hash, b]) => ({ hash, length: b.length })))}::text::json) AS x(hash text, length bigint)
          ON CONFLICT (hash) DO NOTHING RETURNING hash`;
        if (fresh.length === 0) return;
        // The chunks as binary COPY (copy.ts): the bytes go as they are.
        await copyInto(tx, 'blob_chunks (hash, no, data)', chunkRows(fresh.map((r) => [r.hash, unique.get(r.hash)!] as const)));
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

/** A blob's rows of blob_chunks (hash, no, data): CHUNK_BYTES each, the bytes not copied. */
function* chunkRows(blobs: Iterable<readonly [hash: string, bytes: Buffer]>): Generator<CopyRow> {
  for (const [hash, b] of blobs) {
    const h = text(hash);
    for (let no = 0, off = 0; off < b.length; no++, off += CHUNK_BYTES) yield [h, int4(no), b.subarray(off, off + CHUNK_BYTES)];
  }
}
