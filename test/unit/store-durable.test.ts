// Why this file exists: unit tests for the store's durability primitives — atomic+fsynced file writes,
// the lowdb adapter on top of them, and the directory lock (the blob store: blobs.test.ts).
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Low } from 'lowdb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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
