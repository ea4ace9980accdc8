// Why this file exists: blobs (raw messages, attachments) in PostgreSQL, content-addressed by SHA-256
// and deduplicated. A blob is a row in `blobs` (hash, length) and its bytes in `blob_chunks` rows of
// 256 KiB: a reader streams it one chunk (one small query) at a time with backpressure, never the
// whole blob in memory, and a writer sends only the bytes of blobs the database does not have yet:
// in one transaction, the `blobs` rows with ON CONFLICT DO NOTHING RETURNING (the ones it inserted;
// a known one or a concurrent writer's is not), then the chunks of those as one binary COPY.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobStream } from '../port.js';
import type { Sql } from './connect.js';

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
        // The chunks as binary COPY: the bytes go as they are (an INSERT parameter would be bytea's
        // hex text, twice the size, built as a string on the client and decoded on the server).
        const copy = await tx`COPY blob_chunks (hash, no, data) FROM STDIN (FORMAT binary)`.writable();
        await pipeline(Readable.from(copyRows(fresh.map((r) => [r.hash, unique.get(r.hash)!] as const))), copy);
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

const COPY_HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]); // signature, flags 0, no extension
const COPY_TRAILER = Buffer.from([0xff, 0xff]); // field count -1
/** Bytes per write to the connection: the driver sends each write as its own socket write. */
const COPY_WRITE_BYTES = 1024 * 1024;

/**
 * PostgreSQL's binary COPY format for rows (hash text, no integer, data bytea), each blob cut into
 * CHUNK_BYTES chunks: per row a 3-field header with the hash and chunk number, then the chunk's
 * bytes as they are; gathered into writes of about COPY_WRITE_BYTES (one socket write per row
 * header and per chunk cost more than the bytes: ~14,000 writes for 5,000 mails).
 */
export function* copyRows(blobs: Iterable<readonly [hash: string, bytes: Buffer]>): Generator<Buffer> {
  let parts: Buffer[] = [COPY_HEADER];
  let size = COPY_HEADER.length;
  for (const [hash, b] of blobs) {
    const h = Buffer.from(hash, 'utf8');
    for (let no = 0, off = 0; off < b.length; no++, off += CHUNK_BYTES) {
      const data = b.subarray(off, off + CHUNK_BYTES);
      const head = Buffer.allocUnsafe(2 + 4 + h.length + 4 + 4 + 4);
      let at = head.writeInt16BE(3, 0);
      at = head.writeInt32BE(h.length, at);
      at += h.copy(head, at);
      at = head.writeInt32BE(4, at);
      at = head.writeInt32BE(no, at);
      head.writeInt32BE(data.length, at);
      parts.push(head, data);
      size += head.length + data.length;
      if (size >= COPY_WRITE_BYTES) {
        yield Buffer.concat(parts, size);
        parts = [];
        size = 0;
      }
    }
  }
  parts.push(COPY_TRAILER);
  yield Buffer.concat(parts, size + COPY_TRAILER.length);
}
