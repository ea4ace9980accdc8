// The commit point of one SMTP attempt (see src/store/outbox-store.ts). This stream is installed as
// the last stage of the message nodemailer sends (a `processFunc`, the hook nodemailer's own DKIM
// signer uses). It only reads its input when it is itself read, and nodemailer's SMTP client starts
// reading the message only once the server answered DATA with 354.
//
// When the message ends, nodemailer's DataStream (our consumer) writes the end of data (`.`) to the
// socket. We wait until that DataStream has ended (its last chunk, the dot, went to socket.write) and
// the socket has nothing queued (it was handed to the kernel), then call `onHandedOver` — which
// writes the "past end of data" marker synchronously. From that instant the server can accept the
// message even if this process dies: the kernel still delivers what it was given.
import { Readable, type Writable } from 'node:stream';

type Piped = { _readableState?: { pipes?: unknown[] } };
const firstPipe = (s: unknown): (Readable & Writable) | undefined => ((s as Piped)._readableState?.pipes?.[0] as (Readable & Writable) | undefined) ?? undefined;

export class CommitGate extends Readable {
  /** True once the end of data is being sent: from here on a resend could duplicate. */
  endOfData = false;
  #input: Readable | null = null;
  #wanted = false;
  #inputEnded = false;

  constructor(private readonly onHandedOver: () => void) {
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
    if (!input || !this.#wanted || this.endOfData) return;
    let chunk: Buffer | null;
    while (this.#wanted && (chunk = input.read() as Buffer | null) !== null) this.#wanted = this.push(chunk);
    if (this.#inputEnded && input.readableLength === 0) {
      this.endOfData = true;
      this.#watchHandover();
      this.push(null);
    }
  }

  #watchHandover(): void {
    let called = false;
    const done = () => {
      if (called) return;
      called = true;
      this.onHandedOver();
    };
    const dataStream = firstPipe(this);
    if (!dataStream) {
      // Not piped the way nodemailer does it: the best available moment is right after our end.
      this.once('end', () => setImmediate(done));
      return;
    }
    dataStream.once('end', () => {
      const socket = firstPipe(dataStream);
      const drained = () => {
        if (!socket || socket.writableLength === 0) return done();
        if (socket.destroyed) return; // the dot never left: no marker, the attempt is simply retried
        setTimeout(drained, 1);
      };
      drained();
    });
  }
}
