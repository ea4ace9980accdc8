// Why this file exists: raw .eml spool and attachments are stored once, content-addressed by sha256
// under <store.path>/blobs/ab/cdef..., outside the JSON segments (which must stay small to keep writes
// cheap). Writes are durable (temp + fsync + rename + fsync dir) and idempotent, so a poller can put the
// raw message before committing its ticket and simply put it again after a crash.
import { createHash } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fsyncDir, mkdirDurable, removeStaleTemps, writeDurableBatch } from './durable-file.js';

const SHA_RE = /^[0-9a-f]{64}$/;

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export class BlobStore {
  /** shas known to exist on disk (durably) — avoids a stat per put of a repeated attachment */
  readonly #known = new Set<string>();
  readonly #inflight = new Map<string, Promise<string>>();
  readonly #dirs = new Set<string>();

  /** root is the blobs directory itself, e.g. <store.path>/blobs */
  constructor(readonly root: string) {}

  path(sha: string): string {
    const s = sha.toLowerCase();
    if (!SHA_RE.test(s)) throw new Error(`blob id is not a sha256 hex digest: ${JSON.stringify(sha)}`);
    return path.join(this.root, s.slice(0, 2), s.slice(2));
  }

  /** Store bytes; resolves with their sha256 once durable. Idempotent (see putMany). */
  async put(bytes: Uint8Array | string): Promise<string> {
    const [sha] = await this.putMany([bytes]);
    return sha!;
  }

  /**
   * Store many at once; resolves with their sha256s (in order) once all are durable. Cheaper than
   * one at a time: every file is written and fsynced in parallel, then all are renamed into place,
   * then each directory is fsynced once (one journal commit for the lot instead of one per file).
   * A blob already on disk from an earlier run is simply written again (same bytes, same name).
   */
  async putMany(items: (Uint8Array | string)[]): Promise<string[]> {
    const shas: string[] = [];
    const waits: Promise<string>[] = [];
    const todo = new Map<string, Uint8Array>();
    for (const item of items) {
      const data = typeof item === 'string' ? Buffer.from(item, 'utf8') : item;
      const sha = sha256Hex(data);
      shas.push(sha);
      if (this.#known.has(sha) || todo.has(sha)) continue;
      const running = this.#inflight.get(sha);
      if (running) waits.push(running);
      else todo.set(sha, data);
    }
    if (todo.size) {
      const p = this.#writeMany(todo).finally(() => { for (const sha of todo.keys()) this.#inflight.delete(sha); });
      for (const sha of todo.keys()) {
        const one = p.then(() => sha);
        one.catch(() => {}); // seen by whoever awaits it, if anyone does
        this.#inflight.set(sha, one);
      }
      waits.push(p.then(() => ''));
    }
    await Promise.all(waits);
    return shas;
  }

  async #writeMany(todo: Map<string, Uint8Array>): Promise<void> {
    const files = [...todo.keys()].map((sha) => this.path(sha));
    await Promise.all([...new Set(files.map((f) => path.dirname(f)))].map((d) => this.#ensureDir(d)));
    await writeDurableBatch([[...todo.values()].map((data, i) => ({ path: files[i]!, data }))]);
    for (const sha of todo.keys()) this.#known.add(sha);
  }

  async #ensureDir(dir: string): Promise<void> {
    if (this.#dirs.has(dir)) return;
    try {
      await mkdir(dir);
      await fsyncDir(this.root); // the new fan-out directory must itself survive a crash
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    this.#dirs.add(dir);
  }

  async get(sha: string): Promise<Buffer> {
    return readFile(this.path(sha));
  }

  async has(sha: string): Promise<boolean> {
    const s = sha.toLowerCase();
    if (this.#known.has(s)) return true;
    try {
      await stat(this.path(s));
      this.#known.add(s);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  }

  /** Remove temp files a crash left in the fan-out directories (never-acknowledged partial writes). */
  async removeStaleTemps(): Promise<number> {
    let n = 0;
    for (let i = 0; i < 256; i++) n += await removeStaleTemps(path.join(this.root, i.toString(16).padStart(2, '0')));
    return n;
  }
}

/** Open (creating if needed) the blob store of a store directory: <storePath>/blobs. */
export async function openBlobStore(storePath: string): Promise<BlobStore> {
  const root = path.join(storePath, 'blobs');
  await mkdirDurable(root);
  return new BlobStore(root);
}
