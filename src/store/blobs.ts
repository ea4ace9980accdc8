// Why this file exists: raw .eml spool and attachments are stored once, content-addressed by sha256,
// outside the JSON segments (which must stay small to keep writes cheap). Each putMany writes its new
// blobs as one pack file, <store.path>/blobs/packs/NNNNNNNN.pack (format: pack-file.ts), durably (temp +
// fsync + rename + fsync dir), so a batch of 500 messages costs one file and one fsync, not 500.
// Writes are idempotent, so a poller can put the raw message before committing its ticket and simply
// put it again after a crash. Stores written before packs keep their loose files, blobs/ab/cdef…,
// which are still read.
import { createHash } from 'node:crypto';
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fsyncDir, mkdirDurable, removeStaleTemps, writeDurableBatch } from './durable-file.js';
import { decodeIndex, decodeTrailer, encodePack, indexBytes, TRAILER_BYTES, type PackEntry } from './pack-file.js';
import { StoreError } from './types.js';

const SHA_RE = /^[0-9a-f]{64}$/;
const PACK_RE = /^(\d{8,})\.pack$/;

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Where a blob's bytes are: `length` bytes from `offset` of `file`. */
export interface BlobLocation {
  file: string;
  offset: number;
  length: number;
}

interface Packed { pack: number; offset: number; length: number }

function notFound(sha: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`blob ${sha} is not in the store`), { code: 'ENOENT' });
}

export class BlobStore {
  /** blobs in packs: sha → where (built from the packs' indexes at open) */
  readonly #packed: Map<string, Packed>;
  /** loose blobs (stores from before packs) known to exist */
  readonly #loose = new Set<string>();
  readonly #inflight = new Map<string, Promise<void>>();
  #nextPack: number;

  /** Use openBlobStore. root is the blobs directory itself, e.g. <store.path>/blobs */
  constructor(readonly root: string, packed: Map<string, Packed> = new Map(), nextPack = 1) {
    this.#packed = packed;
    this.#nextPack = nextPack;
  }

  get packsDir(): string {
    return path.join(this.root, 'packs');
  }

  packFile(no: number): string {
    return path.join(this.packsDir, `${String(no).padStart(8, '0')}.pack`);
  }

  /** Path of a loose blob (the layout of stores written before packs). */
  loosePath(sha: string): string {
    const s = normalize(sha);
    return path.join(this.root, s.slice(0, 2), s.slice(2));
  }

  /** Store bytes; resolves with their sha256 once durable. Idempotent (see putMany). */
  async put(bytes: Uint8Array | string): Promise<string> {
    const [sha] = await this.putMany([bytes]);
    return sha!;
  }

  /**
   * Store many at once; resolves with their sha256s (in order) once all are durable. The blobs not yet
   * stored (nor being stored by another call) go into one new pack file; a blob already stored is not
   * written again.
   */
  async putMany(items: (Uint8Array | string)[]): Promise<string[]> {
    const shas: string[] = [];
    const waits: Promise<void>[] = [];
    const todo = new Map<string, Uint8Array>();
    for (const item of items) {
      const data = typeof item === 'string' ? Buffer.from(item, 'utf8') : item;
      const sha = sha256Hex(data);
      shas.push(sha);
      if (this.#packed.has(sha) || this.#loose.has(sha) || todo.has(sha)) continue;
      const running = this.#inflight.get(sha);
      if (running) waits.push(running);
      else todo.set(sha, data);
    }
    if (todo.size) {
      const p = this.#writePack(todo).finally(() => { for (const sha of todo.keys()) this.#inflight.delete(sha); });
      p.catch(() => {}); // seen by whoever awaits it: this call, and any call waiting for one of its blobs
      for (const sha of todo.keys()) this.#inflight.set(sha, p);
      waits.push(p);
    }
    await Promise.all(waits);
    return shas;
  }

  async #writePack(todo: Map<string, Uint8Array>): Promise<void> {
    const no = this.#nextPack++;
    const { buffers, entries } = encodePack([...todo]);
    await writeDurableBatch([[{ path: this.packFile(no), data: buffers }]]);
    for (const e of entries) this.#packed.set(e.sha, { pack: no, offset: e.offset, length: e.length });
  }

  /** Where a stored blob's bytes are; null if it is not stored. */
  async locate(sha: string): Promise<BlobLocation | null> {
    const s = normalize(sha);
    const p = this.#packed.get(s);
    if (p) return { file: this.packFile(p.pack), offset: p.offset, length: p.length };
    try {
      const st = await stat(this.loosePath(s));
      this.#loose.add(s);
      return { file: this.loosePath(s), offset: 0, length: st.size };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  /** A stored blob's bytes; rejects with code ENOENT if it is not stored. */
  async get(sha: string): Promise<Buffer> {
    const loc = await this.locate(sha);
    if (!loc) throw notFound(normalize(sha));
    const fh = await open(loc.file, 'r');
    try {
      const buf = Buffer.allocUnsafe(loc.length);
      let got = 0;
      while (got < loc.length) {
        const { bytesRead } = await fh.read(buf, got, loc.length - got, loc.offset + got);
        if (bytesRead === 0) throw new StoreError('corrupt', `${loc.file}: blob ${normalize(sha)} is cut short (${got} of ${loc.length} bytes)`);
        got += bytesRead;
      }
      return buf;
    } finally {
      await fh.close();
    }
  }

  async has(sha: string): Promise<boolean> {
    return (await this.locate(sha)) !== null;
  }

  /**
   * Every stored blob's sha256, packed ones first, then loose ones (stores from before packs), each
   * once (read-only, for `mailroom store import`).
   */
  async *hashes(): AsyncGenerator<string> {
    const packed = [...this.#packed.keys()];
    yield* packed;
    const seen = new Set(packed);
    for (let i = 0; i < 256; i++) {
      const fan = i.toString(16).padStart(2, '0');
      const names = await readdir(path.join(this.root, fan)).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return [] as string[];
        throw e;
      });
      for (const n of names) {
        const sha = fan + n;
        if (SHA_RE.test(sha) && !seen.has(sha)) yield sha;
      }
    }
  }

  /** Number of blobs in packs (loose ones are not counted). */
  get packedCount(): number {
    return this.#packed.size;
  }

  /** Remove temp files a crash left (never-acknowledged partial writes): in packs/ and the loose fan-out directories. */
  async removeStaleTemps(): Promise<number> {
    let n = await removeStaleTemps(this.packsDir);
    for (let i = 0; i < 256; i++) n += await removeStaleTemps(path.join(this.root, i.toString(16).padStart(2, '0')));
    return n;
  }
}

function normalize(sha: string): string {
  const s = sha.toLowerCase();
  if (!SHA_RE.test(s)) throw new Error(`blob id is not a sha256 hex digest: ${JSON.stringify(sha)}`);
  return s;
}

/** A pack's index (trailer, then the index it points at). Throws StoreError('corrupt') on a damaged pack. */
async function readPackIndex(file: string): Promise<PackEntry[]> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const tail = Buffer.alloc(TRAILER_BYTES);
    if (size < TRAILER_BYTES || (await fh.read(tail, 0, TRAILER_BYTES, size - TRAILER_BYTES)).bytesRead !== TRAILER_BYTES) {
      throw new Error('shorter than a pack trailer');
    }
    const trailer = decodeTrailer(tail, size);
    const index = Buffer.alloc(indexBytes(trailer.count));
    if ((await fh.read(index, 0, index.length, trailer.indexOffset)).bytesRead !== index.length) throw new Error('index cut short');
    return decodeIndex(index, trailer);
  } catch (e) {
    throw new StoreError('corrupt', `${file}: ${(e as Error).message}`);
  } finally {
    await fh.close();
  }
}

/** Open (creating if needed) the blob store of a store directory, <storePath>/blobs, reading every pack's index. */
export async function openBlobStore(storePath: string): Promise<BlobStore> {
  const root = path.join(storePath, 'blobs');
  const packsDir = path.join(root, 'packs');
  await mkdirDurable(packsDir);
  const nos = (await readdir(packsDir))
    .map((n) => PACK_RE.exec(n)?.[1])
    .filter((x): x is string => x !== undefined)
    .map((x) => Number.parseInt(x, 10))
    .sort((a, b) => a - b);
  const probe = new BlobStore(root);
  const packed = new Map<string, Packed>();
  for (const no of nos) {
    for (const e of await readPackIndex(probe.packFile(no))) {
      if (!packed.has(e.sha)) packed.set(e.sha, { pack: no, offset: e.offset, length: e.length });
    }
  }
  // a pack renamed into place just before a crash: its directory entry is relied on from now on
  if (nos.length) await fsyncDir(packsDir);
  return new BlobStore(root, packed, (nos.at(-1) ?? 0) + 1);
}
