// Why this file exists: many small writes of one kind become one statement (the PostgreSQL store's
// group commit; the embedded store's fsync cycles are ../group-commit.ts). A call
// that arrives while no flush of its kind is running goes out at once, alone (no added latency when
// idle); calls that arrive while one is running wait for it and then go together, up to `max` per
// flush. Under load the batches grow by themselves, so per-statement costs (a round trip, a socket
// write, parsing and planning on the server) are paid once per batch instead of once per call.
//
// A flush gives each call its own outcome: a value, or an Error for that call alone. A flush that
// throws as a whole fails only when the batch had one call; otherwise each call of it is retried
// alone, one after another in call order, so one bad row cannot fail the calls it happened to be
// batched with. (A flush of several statements must then be safe to repeat in part: the outbox's
// settles are, a patch applied twice is the same.)

export interface StatementBatchOptions<I> {
  /** most calls per flush */
  max: number;
  /** a call's size (e.g. the bytes it writes); a flush takes calls until their sum reaches maxWeight (at least one) */
  weight?: (item: I) => number;
  maxWeight?: number;
}

interface Waiting<I, O> {
  item: I;
  resolve(o: O): void;
  reject(e: unknown): void;
}

export class StatementBatch<I, O> {
  readonly #queue: Waiting<I, O>[] = [];
  #running = false;

  constructor(
    private readonly flush: (items: I[]) => Promise<(O | Error)[]>,
    private readonly options: StatementBatchOptions<I>,
  ) {}

  run(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#next();
    });
  }

  #next(): void {
    if (this.#running || this.#queue.length === 0) return;
    this.#running = true;
    const { max, weight, maxWeight = Infinity } = this.options;
    let n = 0;
    for (let sum = 0; n < this.#queue.length && n < Math.max(1, max) && (n === 0 || sum < maxWeight); n++) sum += weight ? weight(this.#queue[n]!.item) : 0;
    const batch = this.#queue.splice(0, n);
    void this.#send(batch).finally(() => {
      this.#running = false;
      this.#next();
    });
  }

  async #send(batch: Waiting<I, O>[]): Promise<void> {
    let out: (O | Error)[];
    try {
      out = await this.flush(batch.map((w) => w.item));
      if (out.length !== batch.length) throw new Error(`statement batch: ${out.length} outcomes for ${batch.length} calls`);
    } catch (e) {
      if (batch.length === 1) {
        batch[0]!.reject(e);
        return;
      }
      // each alone, in call order: its own outcome (one failing row does not fail the others)
      for (const w of batch) await this.#send([w]);
      return;
    }
    out.forEach((o, i) => (o instanceof Error ? batch[i]!.reject(o) : batch[i]!.resolve(o)));
  }
}
