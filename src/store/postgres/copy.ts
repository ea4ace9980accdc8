// Why this file exists: PostgreSQL's binary COPY format, for the writes whose bytes are most of a
// batch (blob chunks, articles): each field goes as its bytes with a length, so nothing is escaped
// or encoded as text on this side and nothing is parsed on the server's (a `bytea` parameter is
// hex text, a JSON recordset is lexed whole). The fields are Buffers already in the column's binary
// form (the helpers below); they are not copied until gathered into writes of about `writeBytes`
// (the driver sends each write as its own socket write).
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Tx } from './connect.js';

const HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]); // signature, flags 0, no extension
const TRAILER = Buffer.from([0xff, 0xff]); // field count -1
const WRITE_BYTES = 1024 * 1024;

/** A row: its fields in the column order of the COPY statement; null is SQL NULL. */
export type CopyRow = readonly (Buffer | null)[];

export const text = (s: string): Buffer => Buffer.from(s, 'utf8');
export function int4(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(n, 0);
  return b;
}
/** timestamptz: microseconds since 2000-01-01 UTC, as int64 */
export function timestamptz(ms: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigInt64BE(BigInt(ms - 946_684_800_000) * 1000n, 0);
  return b;
}

/** The COPY stream's bytes for `rows`, gathered into writes of about `writeBytes`. */
export function* copyBinary(rows: Iterable<CopyRow>, writeBytes = WRITE_BYTES): Generator<Buffer> {
  let parts: Buffer[] = [HEADER];
  let size = HEADER.length;
  for (const row of rows) {
    const head = Buffer.allocUnsafe(2);
    head.writeInt16BE(row.length, 0);
    parts.push(head);
    size += 2;
    for (const field of row) {
      const len = Buffer.allocUnsafe(4);
      len.writeInt32BE(field === null ? -1 : field.length, 0);
      parts.push(len);
      size += 4;
      if (field !== null) {
        parts.push(field);
        size += field.length;
      }
    }
    if (size >= writeBytes) {
      yield Buffer.concat(parts, size);
      parts = [];
      size = 0;
    }
  }
  parts.push(TRAILER);
  yield Buffer.concat(parts, size + TRAILER.length);
}

/** `COPY <into> FROM STDIN (FORMAT binary)` of `rows` in a transaction; resolves once the server has them all. */
export async function copyInto(tx: Tx, into: string, rows: Iterable<CopyRow>): Promise<void> {
  const query = tx.unsafe(`COPY ${into} FROM STDIN (FORMAT binary)`);
  // The stream gets an 'error' listener the moment the driver makes it. postgres.js (4.2.0) makes it
  // on the server's CopyInResponse and resolves the query with it; a connection terminated right
  // then (its FATAL error in the same read) destroys the stream before this function's `await`
  // resumes, and the 'error' event, emitted on the next tick, found no listener: an uncaught
  // exception that ended the process (test/integration/postgres-dropped-connections.test.ts hit it
  // in 4 of 4 runs once every commit used a COPY). The failure itself still reaches this caller:
  // the pipeline below rejects, and so does the transaction.
  const internal = query as unknown as { resolve(x: unknown): void };
  const resolve = internal.resolve.bind(internal);
  internal.resolve = (x) => {
    if (x instanceof Writable) x.on('error', () => undefined);
    resolve(x);
  };
  const stream = await query.writable();
  await pipeline(Readable.from(copyBinary(rows)), stream);
}
