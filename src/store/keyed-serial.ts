// Why this file exists: work on one key (a mailbox) runs in order, one at a time, while other keys'
// work runs at once; a failure does not hold up the next. Keys with nothing pending are forgotten.
export class KeyedSerial {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.#tails.get(key) ?? Promise.resolve()).then(fn);
    const tail = run.catch(() => undefined);
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return run;
  }

  /** Resolves when everything queued so far has run (shutdown). */
  async idle(): Promise<void> {
    await Promise.all(this.#tails.values());
  }
}
