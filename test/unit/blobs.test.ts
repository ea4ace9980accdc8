// Why this file exists: unit tests for the content-addressed blob store (blobs.ts) and its pack file
// format (pack-file.ts): what is written is read back byte for byte, once, durably named; a damaged
// pack is refused by name; stores from before packs (loose files) are still read.
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openBlobStore, sha256Hex } from '../../src/store/blobs.js';
import { isTempName } from '../../src/store/durable-file.js';
import { decodeIndex, decodeTrailer, encodePack, indexBytes, TRAILER_BYTES } from '../../src/store/pack-file.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mailroom-blobs-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const packs = async () => (await readdir(path.join(dir, 'blobs', 'packs'))).sort();

describe('pack file format', () => {
  it('encodes blobs back to back with an index and a trailer that decode to the same entries', () => {
    const blobs: [string, Uint8Array][] = [Buffer.from('one'), Buffer.alloc(0), Buffer.from('three!')].map((b) => [sha256Hex(b), b]);
    const { buffers, entries, size } = encodePack(blobs);
    const file = Buffer.concat(buffers);
    expect(file.length).toBe(size);
    expect(entries.map((e) => [e.offset, e.length])).toEqual([[8, 3], [11, 0], [11, 6]]);
    const trailer = decodeTrailer(file.subarray(size - TRAILER_BYTES), size);
    const index = file.subarray(trailer.indexOffset, trailer.indexOffset + indexBytes(trailer.count));
    expect(decodeIndex(index, trailer)).toEqual(entries);
    expect(file.subarray(11, 17).toString()).toBe('three!');
  });

  it('refuses a cut tail, a wrong size and a damaged index', () => {
    const { buffers, size } = encodePack([[sha256Hex('x'), Buffer.from('x')]]);
    const file = Buffer.concat(buffers);
    expect(() => decodeTrailer(file.subarray(size - TRAILER_BYTES - 1, size - 1), size - 1)).toThrow(/no pack trailer/);
    expect(() => decodeTrailer(file.subarray(size - TRAILER_BYTES), size + 5)).toThrow(/does not match the file size/);
    const trailer = decodeTrailer(file.subarray(size - TRAILER_BYTES), size);
    const index = Buffer.from(file.subarray(trailer.indexOffset, trailer.indexOffset + indexBytes(1)));
    index[40] = 0xff; // the length
    expect(() => decodeIndex(index, trailer)).toThrow(/corrupt/);
  });
});

describe('blob store', () => {
  it('stores content-addressed and idempotently: the same bytes again write nothing', async () => {
    const blobs = await openBlobStore(dir);
    const bytes = Buffer.from('From: a@b\r\n\r\nhello\r\n');
    const sha = await blobs.put(bytes);
    expect(sha).toBe(sha256Hex(bytes));
    expect(await blobs.has(sha)).toBe(true);
    expect((await blobs.get(sha)).equals(bytes)).toBe(true);
    const [a, b] = await Promise.all([blobs.put(bytes), blobs.put(new Uint8Array(bytes))]);
    expect([a, b]).toEqual([sha, sha]);
    expect(await packs()).toEqual(['00000001.pack']);
    expect(await blobs.locate(sha)).toEqual({ file: path.join(dir, 'blobs', 'packs', '00000001.pack'), offset: 8, length: bytes.length });
  });

  it('reports missing blobs and rejects non-sha ids', async () => {
    const blobs = await openBlobStore(dir);
    const missing = 'a'.repeat(64);
    expect(await blobs.has(missing)).toBe(false);
    expect(await blobs.locate(missing)).toBeNull();
    await expect(blobs.get(missing)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(blobs.get('../etc/passwd')).rejects.toThrow(/not a sha256/);
  });

  it('putMany: shas in order, one pack per call, duplicates and blobs in flight elsewhere written once, no temp files left', async () => {
    const blobs = await openBlobStore(dir);
    const items = Array.from({ length: 40 }, (_, i) => Buffer.from(`From: a@b\r\nSubject: ${i}\r\n\r\nbody ${i}\r\n`));
    const single = blobs.put(items[3]!); // in flight while putMany starts
    const [refs, again] = await Promise.all([blobs.putMany([...items, items[0]!, 'text', '']), blobs.putMany([items[1]!, items[3]!])]);
    expect(await single).toBe(sha256Hex(items[3]!));
    expect(refs).toEqual([...items.map((b) => sha256Hex(b)), sha256Hex(items[0]!), sha256Hex('text'), sha256Hex('')]);
    expect(again).toEqual([sha256Hex(items[1]!), sha256Hex(items[3]!)]);
    for (const [i, b] of items.entries()) expect((await blobs.get(refs[i]!)).equals(b)).toBe(true);
    expect((await blobs.get(sha256Hex('text'))).toString()).toBe('text');
    expect((await blobs.get(sha256Hex(''))).length).toBe(0);
    expect(blobs.packedCount).toBe(42);
    expect(await packs()).toEqual(['00000001.pack', '00000002.pack']); // the single put, then the rest
    expect(await blobs.putMany([])).toEqual([]);
    expect((await packs()).filter(isTempName)).toEqual([]);
  });

  it('a failed pack write rejects with the file system error and is not remembered as written', async () => {
    const blobs = await openBlobStore(dir);
    await rm(path.join(dir, 'blobs', 'packs'), { recursive: true });
    await writeFile(path.join(dir, 'blobs', 'packs'), 'not a directory');
    await expect(blobs.putMany([Buffer.from('fine'), Buffer.from('unlucky')])).rejects.toMatchObject({ code: 'ENOTDIR' });
    await rm(path.join(dir, 'blobs', 'packs'));
    await mkdir(path.join(dir, 'blobs', 'packs'));
    await blobs.put('unlucky');
    expect((await blobs.get(sha256Hex('unlucky'))).toString()).toBe('unlucky');
  });

  it('a second store instance reads the blobs of the first and numbers its packs after them', async () => {
    const first = await openBlobStore(dir);
    const sha = await first.put('attachment');
    const second = await openBlobStore(dir);
    expect((await second.get(sha)).toString()).toBe('attachment');
    await second.put('attachment'); // already there: no new pack
    await second.put('another');
    expect(await packs()).toEqual(['00000001.pack', '00000002.pack']);
    expect((await (await openBlobStore(dir)).get(sha256Hex('another'))).toString()).toBe('another');
  });

  it('reads loose blobs of a store written before packs (blobs/ab/cdef…) and does not copy one it has read into a pack', async () => {
    const bytes = Buffer.from('an old raw message');
    const sha = sha256Hex(bytes);
    await mkdir(path.join(dir, 'blobs', sha.slice(0, 2)), { recursive: true });
    await writeFile(path.join(dir, 'blobs', sha.slice(0, 2), sha.slice(2)), bytes);
    const blobs = await openBlobStore(dir);
    expect((await blobs.get(sha)).equals(bytes)).toBe(true);
    await blobs.put(bytes);
    expect(await packs()).toEqual([]);
  });

  it('refuses to open with a damaged pack, naming it; a crash-left temp pack is removed, not read', async () => {
    const blobs = await openBlobStore(dir);
    await blobs.put('kept');
    const temp = path.join(dir, 'blobs', 'packs', '.00000002.pack.123.abc.0.tmp');
    await writeFile(temp, 'half a pack');
    const reopened = await openBlobStore(dir);
    expect((await reopened.get(sha256Hex('kept'))).toString()).toBe('kept');
    expect(await reopened.removeStaleTemps()).toBe(1);
    expect(await packs()).toEqual(['00000001.pack']);
    const file = path.join(dir, 'blobs', 'packs', '00000001.pack');
    await truncate(file, (await readFile(file)).length - 3);
    await expect(openBlobStore(dir)).rejects.toMatchObject({ code: 'corrupt', message: expect.stringContaining('00000001.pack') });
  });
});
