// Why this file exists: lowdb's own JSONFile (steno) renames atomically but never fsyncs, so after a
// power loss a "successful" write can be a zero-length or stale file. Everything the store acknowledges
// goes through here: write a temp file in the same directory, fsync it, rename it over the target,
// fsync the directory. Also provides a lowdb Adapter on top, and a batched variant with ordered phases
// (the ticket store needs "segments are durable before meta.json says the mail is done").
import { randomBytes } from 'node:crypto';
import { close as closeCb, fsync as fsyncCb, open as openCb, rename as renameCb, unlink as unlinkCb, writev as writevCb } from 'node:fs';
import { chmod, mkdir, readFile, readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Adapter } from 'lowdb';

export interface DurableWrite {
  path: string;
  /** the file's bytes; several buffers are written in order with one writev (not concatenated first) */
  data: string | Uint8Array | Uint8Array[];
}

const TMP_SUFFIX = '.tmp';

/**
 * Everything under store.path is the owner's alone (raw mail, attachments, whole outbound messages,
 * credential fingerprints): directories 0700, files 0600. A umask only removes bits, so files created
 * 0600 are never wider; directories are chmod-ed after mkdir so an odd umask cannot leave them unusable.
 */
export const STORE_DIR_MODE = 0o700;
export const STORE_FILE_MODE = 0o600;

function errCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}

/** random per process, plus a counter: unique without drawing random bytes for every file */
const TMP_TAG = `${process.pid}.${randomBytes(6).toString('hex')}`;
let tmpCounter = 0;

/** Temp names are `.<target>.<pid>.<random>.<n>.tmp` in the target's directory (same filesystem ⇒ atomic rename). */
export function tempPathFor(target: string): string {
  const dir = path.dirname(target);
  return path.join(dir, `.${path.basename(target)}.${TMP_TAG}.${(tmpCounter++).toString(36)}${TMP_SUFFIX}`);
}

export function isTempName(name: string): boolean {
  return name.startsWith('.') && name.endsWith(TMP_SUFFIX);
}

/** fsync a directory so a rename/create inside it survives power loss. */
export function fsyncDir(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (e: NodeJS.ErrnoException) => {
      // Windows cannot open/fsync directories; NTFS metadata journaling is the best we get there.
      if (process.platform === 'win32' && ['EISDIR', 'EPERM', 'EACCES'].includes(errCode(e) ?? '')) resolve();
      else reject(e);
    };
    openCb(dir, 'r', (err, fd) => {
      if (err) return failed(err);
      fsyncCb(fd, (e) => closeCb(fd, (e2) => (e ? failed(e) : e2 ? failed(e2) : resolve())));
    });
  });
}

/** mkdir -p (new directories 0700), and fsync the parent of every directory actually created. */
export async function mkdirDurable(dir: string): Promise<void> {
  const missing: string[] = [];
  let cur = path.resolve(dir);
  for (;;) {
    try {
      await stat(cur);
      break;
    } catch (e) {
      if (errCode(e) !== 'ENOENT') throw e;
      missing.push(cur);
      const parent = path.dirname(cur);
      if (parent === cur) break;
      cur = parent;
    }
  }
  for (const d of missing.reverse()) {
    try {
      await mkdir(d, { mode: STORE_DIR_MODE });
      await chmod(d, STORE_DIR_MODE);
    } catch (e) {
      if (errCode(e) !== 'EEXIST') throw e;
    }
    await fsyncDir(path.dirname(d));
  }
}

/**
 * Write `data` (or the buffers of `data`, in order, with one writev) to a new temp file beside `target`
 * and fsync it; resolves with the temp path.
 * Plain callback fs, one promise per file: the FileHandle API costs the event loop several promises
 * and a handle object per file, which showed in profiles as the spool writes thousands of blobs.
 */
function writeTempSynced(target: string, data: string | Uint8Array | Uint8Array[]): Promise<string> {
  const tmp = tempPathFor(target);
  const buffers = Array.isArray(data) ? data : [typeof data === 'string' ? Buffer.from(data, 'utf8') : data];
  const total = buffers.reduce((n, b) => n + b.byteLength, 0);
  return new Promise((resolve, reject) => {
    openCb(tmp, 'wx', STORE_FILE_MODE, (err, fd) => {
      if (err) return reject(err);
      const fail = (e: unknown) => closeCb(fd, () => unlinkCb(tmp, () => reject(e)));
      const synced = () => fsyncCb(fd, (e) => (e ? fail(e) : closeCb(fd, (e2) => (e2 ? unlinkCb(tmp, () => reject(e2)) : resolve(tmp)))));
      if (total === 0) return synced();
      // libuv's write loops over short writes and IOV_MAX itself; a short total is an error all the same
      writevCb(fd, buffers, 0, (e, n) => (e ? fail(e) : n !== total ? fail(new Error(`short write to ${tmp}: ${n} of ${total} bytes`)) : synced()));
    });
  });
}

function renameAsync(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => renameCb(from, to, (e) => (e ? reject(e) : resolve())));
}

/**
 * Durably write several files. All temp files are written and fsynced in parallel first; then, phase by
 * phase, the phase's temps are renamed over their targets and the touched directories fsynced. So when a
 * later phase's file is visible on disk (even after a crash), every earlier phase's file is too.
 * Callers must not write the same target twice in one batch.
 */
export async function writeDurableBatch(phases: DurableWrite[][]): Promise<void> {
  const all = phases.flat();
  if (all.length === 0) return;
  const settled = await Promise.allSettled(all.map((w) => writeTempSynced(w.path, w.data)));
  const temps: string[] = [];
  let failure: unknown = null;
  for (const s of settled) {
    if (s.status === 'fulfilled') temps.push(s.value);
    else failure ??= s.reason;
  }
  if (failure !== null) {
    await Promise.all(temps.map((t) => unlink(t).catch(() => undefined)));
    throw failure;
  }
  let i = 0;
  for (const phase of phases) {
    if (phase.length === 0) continue;
    const dirs = new Set<string>();
    const renames: Promise<void>[] = [];
    for (const w of phase) {
      renames.push(renameAsync(temps[i++] as string, w.path));
      dirs.add(path.dirname(path.resolve(w.path)));
    }
    await Promise.all(renames);
    await Promise.all([...dirs].map((d) => fsyncDir(d)));
  }
}

/** Atomically and durably replace one file. */
export function writeFileDurable(file: string, data: string | Uint8Array): Promise<void> {
  return writeDurableBatch([[{ path: file, data }]]);
}

/** Read a whole text file; a missing file reads as null. */
export async function readTextIfExists(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if (errCode(e) === 'ENOENT') return null;
    throw e;
  }
}

/** Remove temp files left behind by a crash mid-write (they were never renamed, so never acknowledged). */
export async function removeStaleTemps(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if (errCode(e) === 'ENOENT') return 0;
    throw e;
  }
  const stale = names.filter(isTempName);
  await Promise.all(stale.map((n) => unlink(path.join(dir, n)).catch(() => undefined)));
  return stale.length;
}

/**
 * lowdb Adapter: JSON file written atomically and durably (see top). Writes to one instance are
 * serialized so they land in call order; the data is serialized synchronously when write() is called.
 */
export class DurableJSONFile<T> implements Adapter<T> {
  #chain: Promise<void> = Promise.resolve();

  constructor(
    readonly filename: string,
    private readonly opts: { space?: number } = {},
  ) {}

  async read(): Promise<T | null> {
    const text = await readTextIfExists(this.filename);
    if (text === null) return null;
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw new Error(`${this.filename}: invalid JSON (${(e as Error).message})`);
    }
  }

  write(data: T): Promise<void> {
    return this.writeText(this.serialize(data));
  }

  serialize(data: T): string {
    return JSON.stringify(data, null, this.opts.space);
  }

  /** Write an already-serialized snapshot (lets a caller snapshot many files at the same instant). */
  writeText(text: string): Promise<void> {
    const next = this.#chain.then(() => writeFileDurable(this.filename, text));
    this.#chain = next.catch(() => undefined);
    return next;
  }
}
