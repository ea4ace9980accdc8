// Tests for the worker_threads parse pool, run from TypeScript source (so they also prove the .ts
// worker bootstrap through tsx works under vitest): same results as in-process, crash and hang
// recovery, in-process mode, draining close, that the caller's buffer is never detached, and that
// spoolAndParseBatch over the pool leaves the raw and the attachments durable in the blob store.
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createParsePool, type ParsePool } from '../../src/ingest/parse-pool.js';
import { parseMessage } from '../../src/ingest/parse.js';
import { spoolAndParseBatch } from '../../src/ingest/spool.js';
import { openBlobStore, sha256Hex } from '../../src/store/blobs.js';

const dir = new URL('../fixtures/mail/', import.meta.url);
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.eml')).sort();
const load = (name: string): Buffer => readFileSync(new URL(name, dir));

let pool: ParsePool | null = null;
afterEach(async () => {
  await pool?.close();
  pool = null;
});

describe('createParsePool', () => {
  it('parses every fixture exactly like in-process parsing', async () => {
    pool = createParsePool({ size: 2 });
    const results = await Promise.all(fixtures.map((f) => pool!.parse(load(f))));
    for (const [i, f] of fixtures.entries()) {
      const local = await parseMessage(load(f));
      expect(results[i], f).toEqual(local);
    }
    const pdf = results[fixtures.indexOf('alternative-with-attachment.eml')]!.attachments[0]!;
    expect(pdf.content).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(pdf.content).subarray(0, 8).toString('latin1')).toBe('%PDF-1.4');
  });

  it('does not detach or change the caller buffer, even a view into a larger one', async () => {
    pool = createParsePool({ size: 1 });
    const big = Buffer.concat([Buffer.alloc(1000, 0x41), load('simple-plain.eml'), Buffer.alloc(1000, 0x42)]);
    const view = big.subarray(1000, big.length - 1000);
    const m = await pool.parse(view);
    expect(m.subject).toBe('Printer on 3rd floor is offline');
    expect(m.size).toBe(view.length);
    expect(view.byteLength).toBe(load('simple-plain.eml').length);
    expect(big.byteLength).toBe(view.length + 2000);
  });

  it('a crashing worker resolves as unparsed and is replaced', async () => {
    pool = createParsePool({ size: 1, testHooks: { crashMarker: 'X-Crash-Me' } });
    const crashed = await pool.parse(Buffer.from('X-Crash-Me: yes\r\nSubject: =?UTF-8?Q?a=C3=A7=C3=A3o?=\r\nMessage-ID: <c@x>\r\n\r\nNão some\r\n'));
    expect(crashed.problems).toEqual(expect.arrayContaining(['unparsed', 'worker-crashed']));
    expect(crashed.subject).toBe('ação');
    expect(crashed.messageId).toBe('c@x');
    expect(crashed.text).toBe('Não some\n');
    const after = await pool.parse(load('ticket-tag.eml'));
    expect(after.subject).toBe('RE: [ACME-000123] Printer on 3rd floor is offline');
    expect(after.problems).toEqual([]);
  });

  it('messages queued behind a crashing one on the same worker are retried, not failed', async () => {
    pool = createParsePool({ size: 1, testHooks: { crashMarker: 'X-Crash-Me' } });
    const [crashed, a, b] = await Promise.all([
      pool.parse(Buffer.from('X-Crash-Me: yes\r\nSubject: boom\r\n\r\nx\r\n')),
      pool.parse(load('reply-thread.eml')),
      pool.parse(load('bounce-dsn.eml')),
    ]);
    expect(crashed.problems).toContain('worker-crashed');
    expect(a.problems).toEqual([]);
    expect(a.references).toHaveLength(2);
    expect(b.problems).toEqual([]);
    expect(b.contentType).toBe('multipart/report');
  });

  it('a crash in the middle of a chunk is blamed on the message being parsed, not on the ones before or after it', async () => {
    pool = createParsePool({ size: 1, testHooks: { crashMarker: 'X-Crash-Me' } });
    const names = ['simple-plain.eml', 'reply-thread.eml', 'ticket-tag.eml', 'bounce-dsn.eml'];
    const results = await Promise.all([
      pool.parse(load(names[0]!)),
      pool.parse(load(names[1]!)),
      pool.parse(Buffer.from('X-Crash-Me: yes\r\nSubject: boom\r\n\r\nx\r\n')),
      pool.parse(load(names[2]!)),
      pool.parse(load(names[3]!)),
    ]);
    expect(results.map((m) => m.problems.includes('worker-crashed'))).toEqual([false, false, true, false, false]);
    expect(results[2]!.subject).toBe('boom');
    for (const [i, m] of [results[0], results[1], results[3], results[4]].entries()) expect(m, names[i]).toEqual(await parseMessage(load(names[i]!)));
  });

  it('a message that hangs in the middle of a chunk times out alone', async () => {
    pool = createParsePool({ size: 1, hardTimeoutMs: 800, testHooks: { hangMarker: 'X-Hang-Me' } });
    const [before, hung, after] = await Promise.all([
      pool.parse(load('simple-plain.eml')),
      pool.parse(Buffer.from('X-Hang-Me: yes\r\nSubject: stuck\r\n\r\nbody\r\n')),
      pool.parse(load('ticket-tag.eml')),
    ]);
    expect(before.problems).toEqual([]);
    expect(hung.problems).toEqual(expect.arrayContaining(['unparsed', 'worker-timeout']));
    expect(after.problems).toEqual([]);
    expect(after.subject).toBe('RE: [ACME-000123] Printer on 3rd floor is offline');
  });

  it('a hung worker is terminated after hardTimeoutMs; other messages are unaffected', async () => {
    pool = createParsePool({ size: 2, hardTimeoutMs: 1500, testHooks: { hangMarker: 'X-Hang-Me' } });
    const [hung, ok] = await Promise.all([
      pool.parse(Buffer.from('X-Hang-Me: yes\r\nSubject: stuck\r\n\r\nbody\r\n')),
      pool.parse(load('simple-plain.eml')),
    ]);
    expect(hung.problems).toEqual(expect.arrayContaining(['unparsed', 'worker-timeout']));
    expect(hung.subject).toBe('stuck');
    expect(ok.problems).toEqual([]);
    expect((await pool.parse(load('no-message-id.eml'))).subject).toBe('Scan from device 42');
  });

  it('workers that cannot start: the pool degrades to in-process parsing instead of hanging', async () => {
    pool = createParsePool({ size: 2, testHooks: { failStart: true } });
    const results = await Promise.all([pool.parse(load('simple-plain.eml')), pool.parse(load('ticket-tag.eml'))]);
    expect(results.map((m) => m.problems)).toEqual([[], []]);
    expect(results[1]?.subject).toBe('RE: [ACME-000123] Printer on 3rd floor is offline');
    expect((await pool.parse(load('no-message-id.eml'))).subject).toBe('Scan from device 42');
  });

  it('size 0 parses in-process', async () => {
    pool = createParsePool({ size: 0, maxAttachmentBytes: 10 });
    const m = await pool.parse(load('alternative-with-attachment.eml'));
    expect(m.attachments[0]?.content.length).toBe(0);
    expect(m.problems).toContain('attachment-too-large:invoice-2024-0087.pdf');
  });

  it('close() drains queued work; parse after close still resolves', async () => {
    pool = createParsePool({ size: 1 });
    const pending = fixtures.map((f) => pool!.parse(load(f)));
    await pool.close();
    const results = await Promise.all(pending);
    expect(results.map((m) => m.size)).toEqual(fixtures.map((f) => load(f).length));
    expect((await pool.parse(load('simple-plain.eml'))).subject).toBe('Printer on 3rd floor is offline');
  });
});

describe('spoolAndParseBatch over the pool', () => {
  const blobDir = async () => {
    const { mkdtemp } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    return openBlobStore(await mkdtemp(path.join(tmpdir(), 'mailroom-spool-')));
  };

  for (const size of [2, 0]) {
    it(`${size ? 'in a worker' : 'in-process'}: raw and attachments are durable blobs, attachment bytes dropped from the result`, async () => {
      pool = createParsePool({ size });
      const blobs = await blobDir();
      const raw = load('alternative-with-attachment.eml');
      const { parsed, rawRef } = (await spoolAndParseBatch((items) => blobs.putMany(items), [raw], pool.parse))[0]!;
      expect(rawRef).toBe(sha256Hex(raw));
      expect(Buffer.compare(await blobs.get(rawRef), raw)).toBe(0);
      const pdf = parsed.attachments[0]!;
      expect(pdf.content.byteLength).toBe(0);
      expect((await blobs.get(pdf.id)).subarray(0, 8).toString('latin1')).toBe('%PDF-1.4');
      expect((await blobs.get(pdf.id)).length).toBe(pdf.size);
      const local = await parseMessage(raw);
      expect({ ...parsed, attachments: [] }).toEqual({ ...local, attachments: [] });
    });
  }

  it('a crashing worker: the fallback parse is spooled as well', async () => {
    pool = createParsePool({ size: 1, testHooks: { crashMarker: 'X-Crash-Me' } });
    const blobs = await blobDir();
    const raw = Buffer.from('X-Crash-Me: yes\r\nSubject: boom\r\nMessage-ID: <s@x>\r\n\r\nbody\r\n');
    const { parsed, rawRef } = (await spoolAndParseBatch((items) => blobs.putMany(items), [raw], pool.parse))[0]!;
    expect(parsed.problems).toEqual(expect.arrayContaining(['unparsed', 'worker-crashed']));
    expect(Buffer.compare(await blobs.get(rawRef), raw)).toBe(0);
  });

  it('an unwritable blob store rejects with the file system error (the poll fails and retries), never resolves', async () => {
    pool = createParsePool({ size: 1 });
    const blobs = await blobDir();
    const { rm, writeFile } = await import('node:fs/promises');
    const raw = load('simple-plain.eml');
    await rm(blobs.packsDir, { recursive: true });
    await writeFile(blobs.packsDir, 'not a directory'); // no pack file can be created (root ignores permissions)
    await expect(spoolAndParseBatch((items) => blobs.putMany(items), [raw], pool.parse)).rejects.toMatchObject({ code: expect.stringMatching(/^E/) });
  });
});
