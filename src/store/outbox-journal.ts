// Why this file exists: the outbox changes state several times per message (queued, end-of-data
// marker, sent) and must keep up with a pooled SMTP sender, so rewriting a JSON file per change (as
// lowdb does) would be quadratic. Instead: an append-only JSON-lines journal with group commit (every
// record appended while a write+fdatasync runs shares the next one), and compaction into a fresh
// file that starts with a `base` record. Files are `journal-<n>.jsonl`; the newest file that begins
// with `base` is the start of the truth, older ones are garbage left by a crash mid-compaction.
import { writeSync } from 'node:fs';
import { open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { fsyncDir, readTextIfExists, STORE_FILE_MODE, writeFileDurable } from './durable-file.js';
import { GroupCommit } from './group-commit.js';
import type { JournalRecord } from './outbox-types.js';

const NAME = /^journal-(\d{6,})\.jsonl$/;
const fileName = (n: number) => `journal-${String(n).padStart(6, '0')}.jsonl`;

export interface JournalReplay {
  records: JournalRecord[];
  /** A last line cut short by a crash (never acknowledged), ignored. */
  tornTail: boolean;
}

export class OutboxJournal {
  #fh: FileHandle;
  #no: number;
  #pending: string[] = [];
  readonly #gc = new GroupCommit(() => this.#cycle(), {
    pending: () => this.#pending.length > 0 || this.#unsynced || this.#compactRequest !== null,
    brokenError: (cause) => new Error(`outbox journal failed after a write error, restart mailroom: ${(cause as Error)?.message ?? String(cause)}`),
  });
  #compactRequest: (() => string) | null = null;
  /** Lines written with appendSync while a compaction runs: carried over into the new file. */
  #carry: string[] | null = null;
  /** appendSync wrote lines that no fdatasync has covered yet. */
  #unsynced = false;
  bytes = 0;
  flushes = 0;

  private constructor(private readonly dir: string, fh: FileHandle, no: number, bytes: number) {
    this.#fh = fh;
    this.#no = no;
    this.bytes = bytes;
  }

  /** Read the journal files (newest base onwards). */
  static async replay(dir: string): Promise<JournalReplay & { files: number[] }> {
    const files = (await readdir(dir).catch(() => [] as string[]))
      .map((n) => NAME.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    const texts = new Map<number, string>();
    let start = 0;
    for (let i = files.length - 1; i >= 0; i--) {
      const text = (await readTextIfExists(path.join(dir, fileName(files[i]!)))) ?? '';
      texts.set(files[i]!, text);
      if (text.startsWith('{"t":"base"')) {
        start = i;
        break;
      }
    }
    const records: JournalRecord[] = [];
    let tornTail = false;
    for (const no of files.slice(start)) {
      const lines = (texts.get(no) ?? '').split('\n');
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i]!;
        if (line === '') continue;
        try {
          records.push(JSON.parse(line) as JournalRecord);
        } catch (e) {
          // Only the unterminated last line can be a torn append; anything else is corruption.
          if (i === lines.length - 1) tornTail = true;
          else throw new Error(`${path.join(dir, fileName(no))}:${i + 1}: corrupt outbox journal line (${(e as Error).message})`);
        }
      }
    }
    return { records, tornTail, files };
  }

  /** Start a fresh journal holding `baseText` (a base record and the live state), delete older files. */
  static async create(dir: string, baseText: string, oldFiles: number[]): Promise<OutboxJournal> {
    const no = (oldFiles.at(-1) ?? 0) + 1;
    const file = path.join(dir, fileName(no));
    await writeFileDurable(file, baseText);
    const fh = await open(file, 'a', STORE_FILE_MODE);
    await Promise.all(oldFiles.map((n) => unlink(path.join(dir, fileName(n))).catch(() => undefined)));
    if (oldFiles.length) await fsyncDir(dir);
    return new OutboxJournal(dir, fh, no, Buffer.byteLength(baseText));
  }

  get broken(): unknown {
    return this.#gc.broken;
  }

  /** Append one record; the promise resolves once it is durable (fdatasync'd). */
  append(rec: JournalRecord): Promise<void> {
    if (this.#gc.broken === null) this.#pending.push(JSON.stringify(rec) + '\n');
    return this.sync();
  }

  /** Resolves once everything written so far (appendSync included) is fdatasync'd. */
  sync(): Promise<void> {
    return this.#gc.wait();
  }

  /**
   * Append one record NOW with a synchronous write(2), not waiting for an fsync: it survives the death
   * of the process (page cache), and the next fdatasync makes it power-safe too. The file is opened
   * O_APPEND, so it never interleaves with a group-commit write.
   */
  appendSync(rec: JournalRecord): void {
    if (this.#gc.broken !== null) return;
    const line = JSON.stringify(rec) + '\n';
    try {
      writeSync(this.#fh.fd, line);
      this.bytes += Buffer.byteLength(line);
      this.#carry?.push(line);
      // Power safety follows shortly: the next cycle fdatasyncs it.
      this.#unsynced = true;
      this.#gc.kick();
    } catch (e) {
      this.#gc.fail(e);
    }
  }

  /**
   * Ask for a compaction after the current flush: `snapshot` is called synchronously when nothing is
   * pending and must return the whole new file (base record + live state).
   */
  requestCompaction(snapshot: () => string): void {
    this.#compactRequest = snapshot;
    this.#gc.kick();
  }

  /** Resolves when nothing is pending or being written. */
  idle(): Promise<void> {
    return this.#gc.idle();
  }

  async close(): Promise<void> {
    await this.idle();
    await this.#fh.close().catch(() => undefined);
  }

  /** One group-commit cycle: write and fdatasync what is pending (appendSync lines included), or,
   *  when nothing is, run the compaction asked for. */
  async #cycle(): Promise<void> {
    if (this.#pending.length > 0 || this.#unsynced || this.#compactRequest === null) {
      const text = this.#pending.join('');
      this.#pending = [];
      this.#unsynced = false;
      if (text) await this.#fh.write(text);
      await this.#fh.datasync();
      this.bytes += Buffer.byteLength(text);
      this.flushes++;
      return;
    }
    const snapshot = this.#compactRequest;
    this.#compactRequest = null;
    await this.#compact(snapshot);
  }

  async #compact(snapshot: () => string): Promise<void> {
    // Nothing is pending here, so the snapshot holds exactly what the old file holds; records
    // appended from now on go to the new file. A crash before the rename leaves the old file as the truth.
    const text = snapshot();
    this.#carry = [];
    const no = this.#no + 1;
    const file = path.join(this.dir, fileName(no));
    let fh: FileHandle;
    try {
      await writeFileDurable(file, text);
      fh = await open(file, 'a', STORE_FILE_MODE);
    } catch (e) {
      this.#carry = null;
      throw e;
    }
    // appendSync records made after the snapshot went to the old file: copy them over.
    const carried = this.#carry.join('');
    this.#carry = null;
    if (carried) writeSync(fh.fd, carried);
    const old = this.#no;
    const oldFh = this.#fh;
    this.#fh = fh;
    this.#no = no;
    this.bytes = Buffer.byteLength(text) + Buffer.byteLength(carried);
    await oldFh.close().catch(() => undefined);
    await unlink(path.join(this.dir, fileName(old))).catch(() => undefined);
  }
}
