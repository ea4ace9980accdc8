// Why this file exists: the blob store writes a whole batch of blobs (a fetched batch's raw messages,
// or its attachments) as one pack file instead of one file each. Creating a file, fsyncing it and
// renaming it into place per blob was, measured in bench:ingest, up to a third of ingest's CPU (ext4
// inode allocation and journal commits on the libuv threads); a pack is one file and one fsync for
// hundreds of blobs. This module is the format only: pure encoding and decoding, no I/O.
//
// Layout (all integers big-endian):
//   header   "MRPACK1\n"                                      8 bytes
//   data     the blobs, back to back                           Σ length
//   index    per blob: sha256 (32) | offset (8) | length (8)   48 × count
//   trailer  index offset (8) | count (4) | check (4) | "MRPKEND\n" (8)   24 bytes
// `check` is the first 4 bytes of the index's sha256: a truncated or overwritten tail is refused.
// Offsets are absolute file offsets of each blob's first byte.
import { createHash } from 'node:crypto';

export const PACK_MAGIC = Buffer.from('MRPACK1\n', 'latin1');
const END_MAGIC = Buffer.from('MRPKEND\n', 'latin1');
export const TRAILER_BYTES = 24;
const ENTRY_BYTES = 48;

export interface PackEntry {
  sha: string;
  offset: number;
  length: number;
}

function check(index: Uint8Array): Buffer {
  return createHash('sha256').update(index).digest().subarray(0, 4);
}

/**
 * The buffers of one pack file, in write order (for writev: the blobs are not copied).
 * `blobs` are [sha256 hex, bytes] pairs; their entries (with offsets) are returned too.
 */
export function encodePack(blobs: [string, Uint8Array][]): { buffers: Uint8Array[]; entries: PackEntry[]; size: number } {
  const entries: PackEntry[] = [];
  let offset = PACK_MAGIC.length;
  for (const [sha, bytes] of blobs) {
    entries.push({ sha, offset, length: bytes.byteLength });
    offset += bytes.byteLength;
  }
  const index = Buffer.alloc(entries.length * ENTRY_BYTES);
  entries.forEach((e, i) => {
    const at = i * ENTRY_BYTES;
    index.write(e.sha, at, 32, 'hex');
    index.writeBigUInt64BE(BigInt(e.offset), at + 32);
    index.writeBigUInt64BE(BigInt(e.length), at + 40);
  });
  const trailer = Buffer.alloc(TRAILER_BYTES);
  trailer.writeBigUInt64BE(BigInt(offset), 0);
  trailer.writeUInt32BE(entries.length, 8);
  check(index).copy(trailer, 12);
  END_MAGIC.copy(trailer, 16);
  return { buffers: [PACK_MAGIC, ...blobs.map(([, b]) => b), index, trailer], entries, size: offset + index.length + TRAILER_BYTES };
}

/** Where the index is, from a pack's last TRAILER_BYTES bytes; throws if they are not a pack trailer. */
export function decodeTrailer(trailer: Uint8Array, fileSize: number): { indexOffset: number; count: number; check: Buffer } {
  const t = Buffer.from(trailer.buffer, trailer.byteOffset, trailer.byteLength);
  if (t.length !== TRAILER_BYTES || !t.subarray(16).equals(END_MAGIC)) throw new Error('no pack trailer (truncated or not a pack)');
  const indexOffset = Number(t.readBigUInt64BE(0));
  const count = t.readUInt32BE(8);
  if (indexOffset < PACK_MAGIC.length || indexOffset + count * ENTRY_BYTES + TRAILER_BYTES !== fileSize) {
    throw new Error(`pack trailer does not match the file size (${count} blobs, index at ${indexOffset}, ${fileSize} bytes)`);
  }
  return { indexOffset, count, check: Buffer.from(t.subarray(12, 16)) };
}

export function indexBytes(count: number): number {
  return count * ENTRY_BYTES;
}

/** The entries of a pack's index; throws if the index does not match the trailer's check. */
export function decodeIndex(index: Uint8Array, trailer: { indexOffset: number; count: number; check: Buffer }): PackEntry[] {
  const ix = Buffer.from(index.buffer, index.byteOffset, index.byteLength);
  if (ix.length !== trailer.count * ENTRY_BYTES || !check(ix).equals(trailer.check)) throw new Error('pack index is corrupt (check mismatch)');
  const entries: PackEntry[] = [];
  for (let i = 0; i < trailer.count; i++) {
    const at = i * ENTRY_BYTES;
    const offset = Number(ix.readBigUInt64BE(at + 32));
    const length = Number(ix.readBigUInt64BE(at + 40));
    if (offset < PACK_MAGIC.length || offset + length > trailer.indexOffset) throw new Error(`pack index entry ${i} points outside the data`);
    entries.push({ sha: ix.toString('hex', at, at + 32), offset, length });
  }
  return entries;
}
