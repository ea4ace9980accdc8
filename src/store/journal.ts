// A durable append-only journal (JSON lines) for queues whose entries change often (webhook
// deliveries): an update appends one line instead of rewriting a file, appends arriving together
// share one fsync, and the file is compacted (temp + fsync + rename) when mostly obsolete.
// A line torn by a crash mid-append is ignored on replay: its append had not been acknowledged.
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { mkdirDurable, readTextIfExists, writeFileDurable, fsyncDir, STORE_FILE_MODE } from './durable-file.js';
import { GroupCommit } from './group-commit.js';

export interface JournalOptions {
  /** Compact when the file holds more than this many lines and over half are obsolete. */
  compactAfter?: number;
}

export class Journal<R> {
  /** Opened lazily by the next write: compaction closes it, and the file at `file` may be new. */
  private fh: FileHandle | null = null;
  /** Lines appended and not yet written; the group commit's next cycle writes them. */
  private queue: { line: string; count: number }[] = [];
  /** records in `queue` */
  private queued = 0;
  private readonly gc = new GroupCommit(() => this.exclusive(() => this.writeQueued()), {
    brokenError: (cause) => new Error(`journal ${this.file} failed after a write error, restart mailroom: ${(cause as Error)?.message ?? String(cause)}`),
  });
  /** Set before maybeCompact's first await: a second call while one runs does nothing. */
  private compacting: Promise<boolean> | null = null;
  /** Writes and compaction take turns: a write never goes to a handle compaction closed or a file
   *  it replaced, and compaction's snapshot is taken with no write half done. */
  private turn: Promise<unknown> = Promise.resolve();
  /** Lines in the file (written ones, not queued ones). */
  private lines = 0;
  private closed = false;

  private constructor(readonly file: string, private opts: JournalOptions) {}

  /** Open (creating if missing) and replay every complete record in order. */
  static async open<R>(file: string, replay: (r: R) => void, opts: JournalOptions = {}): Promise<Journal<R>> {
    await mkdirDurable(path.dirname(file));
    const j = new Journal<R>(file, opts);
    const text = (await readTextIfExists(file)) ?? '';
    const rows = text.split('\n');
    let valid = 0;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      const complete = i < rows.length - 1; // the last element follows the final newline
      if (!complete) break;
      try {
        replay(JSON.parse(row) as R);
        j.lines++;
        valid++;
      } catch {
        break; // torn or corrupt tail: stop at the last good record
      }
    }
    const clean = valid ? rows.slice(0, valid).join('\n') + '\n' : '';
    // Drop a torn tail durably so later appends start on a clean line.
    if (clean !== text) await writeFileDurable(file, clean);
    j.fh = await open(file, 'a', STORE_FILE_MODE);
    await fsyncDir(path.dirname(file));
    return j;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.turn.then(fn);
    this.turn = run.catch(() => undefined);
    return run;
  }

  /** Append records; resolves once they are on disk (fsync). Concurrent appends share one fsync. */
  append(...records: R[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('journal is closed'));
    this.queue.push({ line: records.map((r) => JSON.stringify(r)).join('\n') + '\n', count: records.length });
    this.queued += records.length;
    return this.gc.wait();
  }

  /** One group-commit cycle (in turn with compaction): write what is queued, fsync. */
  private async writeQueued(): Promise<void> {
    const batch = this.queue.splice(0);
    if (batch.length === 0) return;
    const count = batch.reduce((n, b) => n + b.count, 0);
    this.queued -= count;
    this.fh ??= await open(this.file, 'a', STORE_FILE_MODE);
    await this.fh.write(batch.map((b) => b.line).join(''));
    await this.fh.sync();
    this.lines += count;
  }

  /**
   * Replace the file with `live()` if it is mostly obsolete. `liveCount` (cheap) lets a caller that
   * calls this on every update skip building the records when compaction is not due.
   */
  maybeCompact(live: () => R[], liveCount?: number): Promise<boolean> {
    if (this.closed || this.compacting || !this.due(liveCount)) return Promise.resolve(false);
    const run = this.exclusive(async () => {
      // Taken in turn: every record already written is reflected in what the caller holds, and
      // records queued meanwhile go to the new file after it.
      const records = live();
      if (!this.due(records.length)) return false;
      const text = records.map((r) => JSON.stringify(r) + '\n').join('');
      // Closed before the rename, reopened by the next write: if the rewrite fails, the old file
      // is still in place and still the one written to.
      const fh = this.fh;
      this.fh = null;
      await fh?.close();
      await writeFileDurable(this.file, text);
      this.lines = records.length;
      return true;
    });
    this.compacting = run;
    const clear = () => {
      if (this.compacting === run) this.compacting = null;
    };
    run.then(clear, clear);
    return run;
  }

  private due(liveCount: number | undefined): boolean {
    const threshold = this.opts.compactAfter ?? 10_000;
    // Queued records count too: they are on their way into the file, and a writer that appends in
    // bursts would otherwise never look due while its records wait for the next cycle.
    const lines = this.lines + this.queued;
    return lines > threshold && (liveCount === undefined || liveCount * 2 <= lines);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.gc.idle();
    await this.compacting?.catch(() => undefined);
    await this.exclusive(async () => {
      await this.fh?.close();
      this.fh = null;
    });
  }
}
