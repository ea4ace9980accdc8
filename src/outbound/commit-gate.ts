// The commit point of one SMTP attempt (see src/store/outbox-store.ts). nodemailer writes the
// end-of-data (`.`) right after the message stream ends, so this stream — installed as the last
// stage of the message (a `processFunc`, the hook nodemailer's own DKIM signer uses) — holds the end
// back until `commit()` has made the "end of data may go out" marker durable.
//
// It only reads its input when it is itself read, and nodemailer's SMTP client starts reading the
// message only after the server answered DATA with 354: so the marker is written after the envelope
// was accepted and every byte of the message was handed to the socket, immediately before the dot.
import { Readable } from 'node:stream';

export class CommitGate extends Readable {
  /** True once the end of data may have been sent: from here on a retry could duplicate. */
  committed = false;
  #input: Readable | null = null;
  #wanted = false;
  #inputEnded = false;
  #committing = false;

  constructor(private readonly commit: () => Promise<void>) {
    super();
  }

  /** Wrap nodemailer's message stream; returns the stream nodemailer must send. */
  attach(input: Readable): Readable {
    this.#input = input;
    input.on('readable', () => this.#pump());
    input.once('end', () => {
      this.#inputEnded = true;
      this.#pump();
    });
    input.once('error', (err) => this.destroy(err));
    return this;
  }

  override _read(): void {
    this.#wanted = true;
    this.#pump();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#input?.destroy();
    cb(err);
  }

  #pump(): void {
    const input = this.#input;
    if (!input || !this.#wanted) return;
    let chunk: Buffer | null;
    while (this.#wanted && (chunk = input.read() as Buffer | null) !== null) this.#wanted = this.push(chunk);
    if (this.#inputEnded && !this.#committing) {
      this.#committing = true;
      this.commit().then(
        () => {
          this.committed = true;
          this.push(null);
        },
        (err: unknown) => this.destroy(err instanceof Error ? err : new Error(String(err))),
      );
    }
  }
}
