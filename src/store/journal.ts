// A durable append-only journal (JSON lines) for queues whose entries change often (webhook
// deliveries): an update appends one line instead of rewriting a file, appends arriving together
// share one fsync, and the file is compacted (temp + fsync + rename) when mostly obsolete.
// A line torn by a crash mid-append is ignored on replay: its append had not been acknowledged.
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { mkdirDurable, readTextIfExists, writeFileDurable, fsyncDir } from './durable-file.js';

export interface JournalOptions {
  /** Compact when the file holds more than this many lines and over half are obsolete. */
  compactAfter?: number;
}

export class Journal<R> {
  private fh: FileHandle | null = null;
  private queue: { line: string; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private flushing: Promise<void> | null = null;
  private compacting: Promise<void> | null = null;
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
    j.fh = await open(file, 'a');
    await fsyncDir(path.dirname(file));
    return j;
  }

  /** Append records; resolves once they are on disk (fsync). Concurrent appends share one fsync. */
  append(...records: R[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('journal is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ line: records.map((r) => JSON.stringify(r)).join('\n') + '\n', resolve, reject });
      this.lines += records.length;
      this.flushing ??= this.flush();
    });
  }

  private async flush(): Promise<void> {
    // Yield once so appends made in the same tick join this write.
    await new Promise((r) => setImmediate(r));
    await this.compacting;
    while (this.queue.length) {
      const batch = this.queue.splice(0);
      try {
        await this.fh!.write(batch.map((b) => b.line).join(''));
        await this.fh!.sync();
        for (const b of batch) b.resolve();
      } catch (e) {
        for (const b of batch) b.reject(e);
      }
    }
    this.flushing = null;
  }

  /** Replace the file with `live` records if it is mostly obsolete. */
  async maybeCompact(live: () => R[]): Promise<boolean> {
    const records = live();
    const threshold = this.opts.compactAfter ?? 10_000;
    if (this.lines <= threshold || records.length * 2 > this.lines) return false;
    await this.flushing;
    let done!: () => void;
    this.compacting = new Promise((r) => (done = r));
    try {
      const text = records.map((r) => JSON.stringify(r) + '\n').join('');
      await this.fh?.close();
      await writeFileDurable(this.file, text);
      this.fh = await open(this.file, 'a');
      this.lines = records.length;
    } finally {
      this.compacting = null;
      done();
    }
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flushing;
    await this.fh?.close();
    this.fh = null;
  }
}
