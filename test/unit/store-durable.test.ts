// Why this file exists: unit tests for the store's durability primitives — atomic+fsynced file writes,
// the lowdb adapter on top of them, the content-addressed blob store, and the directory lock.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Low } from 'lowdb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openBlobStore, sha256Hex } from '../../src/store/blobs.js';
import {
  DurableJSONFile,
  isTempName,
  readTextIfExists,
  removeStaleTemps,
  writeDurableBatch,
  writeFileDurable,
} from '../../src/store/durable-file.js';
import { acquireStoreLock } from '../../src/store/lock.js';
import { openTicketStore } from '../../src/store/ticket-store.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mailroom-durable-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('durable-file', () => {
  it('creates and atomically replaces a file, leaving no temp files', async () => {
    const f = path.join(dir, 'a.json');
    await writeFileDurable(f, 'one');
    await writeFileDurable(f, 'two');
    expect(await readFile(f, 'utf8')).toBe('two');
    expect((await readdir(dir)).filter(isTempName)).toEqual([]);
  });

  it('reads a missing file as null', async () => {
    expect(await readTextIfExists(path.join(dir, 'nope.json'))).toBeNull();
  });

  it('writes a batch in phases', async () => {
    await writeDurableBatch([[{ path: path.join(dir, 'x'), data: 'X' }], [], [{ path: path.join(dir, 'y'), data: Buffer.from('Y') }]]);
    expect(await readFile(path.join(dir, 'x'), 'utf8')).toBe('X');
    expect(await readFile(path.join(dir, 'y'), 'utf8')).toBe('Y');
  });

  it('fails the whole batch and cleans temps if a directory is missing', async () => {
    await expect(
      writeDurableBatch([[{ path: path.join(dir, 'ok'), data: '1' }, { path: path.join(dir, 'missing', 'f'), data: '2' }]]),
    ).rejects.toThrow();
    expect(await readdir(dir)).toEqual([]);
  });

  it('is a lowdb adapter: missing file reads as default, writes round-trip', async () => {
    const file = path.join(dir, 'db.json');
    const db = new Low<{ n: number; list: string[] }>(new DurableJSONFile(file), { n: 0, list: [] });
    await db.read();
    expect(db.data).toEqual({ n: 0, list: [] });
    await db.update((d) => {
      d.n = 5;
      d.list.push('a');
    });
    const again = new Low<{ n: number; list: string[] }>(new DurableJSONFile(file), { n: 0, list: [] });
    await again.read();
    expect(again.data).toEqual({ n: 5, list: ['a'] });
  });

  it('serializes concurrent writes to one adapter in call order', async () => {
    const file = path.join(dir, 'c.json');
    const a = new DurableJSONFile<number>(file);
    await Promise.all(Array.from({ length: 20 }, (_, i) => a.write(i)));
    expect(await a.read()).toBe(19);
  });

  it('removes stale temp files only', async () => {
    await writeFile(path.join(dir, '.meta.json.123.abc.tmp'), 'partial');
    await writeFile(path.join(dir, 'meta.json'), '{}');
    expect(await removeStaleTemps(dir)).toBe(1);
    expect(await readdir(dir)).toEqual(['meta.json']);
  });
});

describe('blobs', () => {
  it('stores content-addressed, idempotently, under blobs/ab/cdef…', async () => {
    const blobs = await openBlobStore(dir);
    const bytes = Buffer.from('From: a@b\r\n\r\nhello\r\n');
    const sha = await blobs.put(bytes);
    expect(sha).toBe(sha256Hex(bytes));
    expect(blobs.path(sha)).toBe(path.join(dir, 'blobs', sha.slice(0, 2), sha.slice(2)));
    expect(await blobs.has(sha)).toBe(true);
    expect((await blobs.get(sha)).equals(bytes)).toBe(true);
    const [a, b] = await Promise.all([blobs.put(bytes), blobs.put(new Uint8Array(bytes))]);
    expect(a).toBe(sha);
    expect(b).toBe(sha);
    expect(await readdir(path.join(dir, 'blobs', sha.slice(0, 2)))).toEqual([sha.slice(2)]);
  });

  it('reports missing blobs and rejects non-sha ids', async () => {
    const blobs = await openBlobStore(dir);
    const missing = 'a'.repeat(64);
    expect(await blobs.has(missing)).toBe(false);
    await expect(blobs.get(missing)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(() => blobs.path('../etc/passwd')).toThrow();
  });

  it('putMany: shas in order, duplicates and blobs in flight elsewhere written once, no temp files left', async () => {
    const blobs = await openBlobStore(dir);
    const items = Array.from({ length: 40 }, (_, i) => Buffer.from(`From: a@b\r\nSubject: ${i}\r\n\r\nbody ${i}\r\n`));
    const single = blobs.put(items[3]!); // in flight while putMany starts
    const [refs, again] = await Promise.all([blobs.putMany([...items, items[0]!, 'text']), blobs.putMany([items[1]!, items[3]!])]);
    expect(await single).toBe(sha256Hex(items[3]!));
    expect(refs).toEqual([...items.map((b) => sha256Hex(b)), sha256Hex(items[0]!), sha256Hex('text')]);
    expect(again).toEqual([sha256Hex(items[1]!), sha256Hex(items[3]!)]);
    for (const [i, b] of items.entries()) expect((await blobs.get(refs[i]!)).equals(b)).toBe(true);
    expect((await blobs.get(sha256Hex('text'))).toString()).toBe('text');
    const names = (await Promise.all(Array.from(new Set(refs.map((r) => r.slice(0, 2)))).map((d) => readdir(path.join(dir, 'blobs', d))))).flat();
    expect(names.filter(isTempName)).toEqual([]);
    expect(names.length).toBe(41);
    expect(await blobs.putMany([])).toEqual([]);
  });

  it('putMany rejects with the file system error when a fan-out directory cannot be made', async () => {
    const blobs = await openBlobStore(dir);
    const bytes = Buffer.from('unlucky');
    await writeFile(path.join(dir, 'blobs', sha256Hex(bytes).slice(0, 2)), 'not a directory');
    await expect(blobs.putMany([Buffer.from('fine'), bytes])).rejects.toMatchObject({ code: 'ENOTDIR' });
    await expect(blobs.putMany([bytes])).rejects.toMatchObject({ code: 'ENOTDIR' }); // not remembered as written
  });

  it('a second store instance sees blobs written by the first', async () => {
    const sha = await (await openBlobStore(dir)).put('attachment');
    expect(await (await openBlobStore(dir)).has(sha)).toBe(true);
  });
});

describe('lock', () => {
  it('refuses a second open of the same directory, allows it after close', async () => {
    const s = await openTicketStore(dir);
    await expect(openTicketStore(dir)).rejects.toMatchObject({ code: 'locked' });
    await s.close();
    const again = await openTicketStore(dir);
    await again.close();
  });

  it('takes over a lock left by a dead process', async () => {
    await writeFile(path.join(dir, 'LOCK'), '999999999\n');
    const release = await acquireStoreLock(dir);
    expect((await readFile(path.join(dir, 'LOCK'), 'utf8')).trim()).toBe(String(process.pid));
    await release();
  });
});
