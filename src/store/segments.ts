// Why this file exists: lowdb rewrites a whole JSON file per write, so tickets are partitioned into
// segment files (segments/seg-NNNNNN.json, each a lowdb file of at most N tickets / M bytes). New
// tickets go to the newest segment; an article appended to an old ticket rewrites only that ticket's
// segment. Only a few segments are kept parsed in memory (LRU); the rest are loaded on demand, so
// write cost and memory stay bounded as the store grows.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { Low } from 'lowdb';
import { DurableJSONFile, readTextIfExists, type DurableWrite } from './durable-file.js';
import type { Article, TicketStatus } from './types.js';
import { StoreError } from './types.js';

/** A ticket as persisted in a segment file. */
export interface StoredTicket {
  id: string;
  seq: number; // global creation order, never reused
  company: string;
  contract: string | null;
  status: TicketStatus;
  type: string | null;
  group: string | null;
  priority: string | null;
  tags: string[];
  fields: Record<string, string>;
  prefix: string;
  createdAt: string;
  updatedAt: string;
  articles: Article[];
}

export interface SegmentFile {
  v: 1;
  segment: number;
  tickets: StoredTicket[];
}

const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']}');

export class LoadedSegment {
  readonly byId = new Map<string, StoredTicket>();
  /**
   * Each ticket's JSON bytes as last written, dropped when the ticket changes (Segments.markDirty).
   * A flush re-encodes only the tickets that changed and writes the others' cached bytes: an article
   * threaded onto an old ticket, or each new ticket of a batch, used to re-serialize its whole segment
   * (up to 1 MB) — a third of the main thread's CPU during ingest.
   */
  readonly #encoded = new Map<string, Buffer>();
  constructor(
    readonly no: number,
    readonly db: Low<SegmentFile>,
  ) {
    for (const t of db.data.tickets) this.byId.set(t.id, t);
  }
  get adapter(): DurableJSONFile<SegmentFile> {
    return this.db.adapter as DurableJSONFile<SegmentFile>;
  }
  add(t: StoredTicket): void {
    this.db.data.tickets.push(t);
    this.byId.set(t.id, t);
  }
  /** The ticket changed in memory: its cached bytes are stale. */
  touch(id: string): void {
    this.#encoded.delete(id);
  }
  /**
   * The segment file's bytes, in order (written with one writev): exactly JSON.stringify(db.data),
   * built from the per-ticket cache.
   */
  encode(): Buffer[] {
    const { tickets, ...rest } = this.db.data;
    const head = JSON.stringify(rest).slice(0, -1);
    const parts: Buffer[] = [Buffer.from(`${head}${head.length > 1 ? ',' : ''}"tickets":[`, 'utf8')];
    tickets.forEach((t, i) => {
      let bytes = this.#encoded.get(t.id);
      if (!bytes) {
        bytes = Buffer.from(JSON.stringify(t), 'utf8');
        this.#encoded.set(t.id, bytes);
      }
      if (i > 0) parts.push(COMMA);
      parts.push(bytes);
    });
    parts.push(CLOSE);
    return parts;
  }
}

const NAME_RE = /^seg-(\d{6,})\.json$/;

export interface SegmentOptions {
  maxTickets: number;
  maxBytes: number;
  cacheSize: number;
}

export class Segments {
  readonly #cache = new Map<number, LoadedSegment>(); // Map order = LRU order (oldest first)
  readonly #loading = new Map<number, Promise<LoadedSegment>>();
  readonly #counts = new Map<number, number>();
  readonly #bytes = new Map<number, number>();
  readonly #dirty = new Set<number>();
  /** segment receiving new tickets (-1: none yet) */
  #current = -1;

  constructor(
    readonly dir: string,
    private readonly opts: SegmentOptions,
  ) {}

  fileOf(no: number): string {
    return path.join(this.dir, `seg-${String(no).padStart(6, '0')}.json`);
  }

  get count(): number {
    return this.#counts.size;
  }

  #open(no: number): Low<SegmentFile> {
    return new Low<SegmentFile>(new DurableJSONFile<SegmentFile>(this.fileOf(no)), { v: 1, segment: no, tickets: [] });
  }

  async #read(no: number): Promise<{ seg: LoadedSegment; bytes: number }> {
    const db = this.#open(no);
    const adapter = db.adapter as DurableJSONFile<SegmentFile>;
    const text = await readTextIfExists(adapter.filename);
    if (text !== null) {
      try {
        db.data = JSON.parse(text) as SegmentFile;
      } catch (e) {
        throw new StoreError('corrupt', `${adapter.filename}: invalid JSON (${(e as Error).message})`);
      }
      if (!Array.isArray(db.data?.tickets)) throw new StoreError('corrupt', `${adapter.filename}: no tickets array`);
    }
    return { seg: new LoadedSegment(no, db), bytes: text === null ? 0 : Buffer.byteLength(text) };
  }

  /**
   * Open-time scan: parse every segment in order and hand its tickets to `visit` (to build indexes).
   * Reads the next file while the current one is being visited. Keeps only the newest segment cached.
   */
  async scan(visit: (no: number, tickets: StoredTicket[]) => void): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    const nos = names
      .map((n) => NAME_RE.exec(n)?.[1])
      .filter((x): x is string => x !== undefined)
      .map((x) => Number.parseInt(x, 10))
      .sort((a, b) => a - b);
    let next = nos.length > 0 ? this.#read(nos[0] as number) : null;
    for (let i = 0; i < nos.length; i++) {
      const { seg, bytes } = await (next as Promise<{ seg: LoadedSegment; bytes: number }>);
      next = i + 1 < nos.length ? this.#read(nos[i + 1] as number) : null;
      this.#counts.set(seg.no, seg.db.data.tickets.length);
      this.#bytes.set(seg.no, bytes);
      visit(seg.no, seg.db.data.tickets);
      if (i === nos.length - 1) {
        this.#current = seg.no;
        this.#cache.set(seg.no, seg);
      }
    }
  }

  /** A loaded segment, or undefined if it is not in memory (marks it recently used). */
  get(no: number): LoadedSegment | undefined {
    const seg = this.#cache.get(no);
    if (seg) {
      this.#cache.delete(no);
      this.#cache.set(no, seg);
    }
    return seg;
  }

  async load(no: number): Promise<LoadedSegment> {
    const cached = this.get(no);
    if (cached) return cached;
    let p = this.#loading.get(no);
    if (!p) {
      p = this.#read(no)
        .then(({ seg, bytes }) => {
          this.#bytes.set(no, bytes);
          // a concurrent path may have created it meanwhile (only possible for a brand-new segment)
          const raced = this.#cache.get(no);
          if (raced) return raced;
          this.#cache.set(no, seg);
          return seg;
        })
        .finally(() => this.#loading.delete(no));
      this.#loading.set(no, p);
    }
    return p;
  }

  /** Add a new ticket to the newest segment (rolling to a fresh one when full); returns its segment no. */
  addTicket(t: StoredTicket): number {
    let seg = this.#current >= 0 ? this.#cache.get(this.#current) : undefined;
    const full =
      !seg ||
      (this.#counts.get(seg.no) ?? 0) >= this.opts.maxTickets ||
      (this.#bytes.get(seg.no) ?? 0) >= this.opts.maxBytes;
    if (full) {
      const no = this.#current + 1;
      seg = new LoadedSegment(no, this.#open(no));
      this.#cache.set(no, seg);
      this.#counts.set(no, 0);
      this.#bytes.set(no, 0);
      this.#current = no;
    }
    const s = seg as LoadedSegment;
    s.add(t);
    this.#counts.set(s.no, (this.#counts.get(s.no) ?? 0) + 1);
    this.#dirty.add(s.no);
    return s.no;
  }

  /** Ticket `id` of loaded segment `no` was changed in memory: the next flush writes it. */
  markDirty(no: number, id: string): void {
    const seg = this.#cache.get(no);
    if (!seg) throw new Error(`segment ${no} modified while not loaded`);
    seg.touch(id);
    this.#dirty.add(no);
  }

  get dirtyCount(): number {
    return this.#dirty.size;
  }

  /** Serialize every dirty segment now (the flush writes these strings) and clear the dirty set. */
  snapshot(): DurableWrite[] {
    const out: DurableWrite[] = [];
    for (const no of this.#dirty) {
      const seg = this.#cache.get(no);
      if (!seg) throw new Error(`dirty segment ${no} not in memory`);
      const parts = seg.encode();
      this.#bytes.set(no, parts.reduce((n, b) => n + b.length, 0));
      out.push({ path: seg.adapter.filename, data: parts });
    }
    this.#dirty.clear();
    return out;
  }

  /** Drop least-recently-used clean segments beyond the cache size (never dirty or current ones). */
  evict(): void {
    let excess = this.#cache.size - this.opts.cacheSize - 1;
    if (excess <= 0) return;
    for (const no of [...this.#cache.keys()]) {
      if (excess <= 0) break;
      if (no === this.#current || this.#dirty.has(no)) continue;
      this.#cache.delete(no);
      excess--;
    }
  }

  get cached(): number {
    return this.#cache.size;
  }
}
