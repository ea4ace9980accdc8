// The commit point of one SMTP attempt (see src/store/outbox-store.ts). This is the message stream
// nodemailer's SMTP client sends: it holds the stored MIME bytes, and nodemailer starts reading it
// only once the server answered DATA with 354.
//
// When it ends, nodemailer's DataStream (our consumer) writes the end of data (`.`) to the socket.
// We wait until that DataStream has ended (its last chunk, the dot, went to socket.write) and the
// socket has nothing queued (it was handed to the kernel), then call `onHandedOver` — which writes
// the "past end of data" record synchronously. From that instant the server can accept the message
// even if this process dies: the kernel still delivers what it was given.
import { Readable, type Writable } from 'node:stream';

type Piped = { _readableState?: { pipes?: unknown[] } };
const firstPipe = (s: unknown): (Readable & Writable) | undefined => ((s as Piped)._readableState?.pipes?.[0] as (Readable & Writable) | undefined) ?? undefined;

export class CommitGate extends Readable {
  /** True once the end of data is being sent: from here on a resend could duplicate. */
  endOfData = false;
  #pushed = false;

  constructor(
    private readonly raw: Buffer,
    private readonly onHandedOver: () => void,
  ) {
    super();
  }

  override _read(): void {
    if (!this.#pushed) {
      this.#pushed = true;
      this.push(this.raw);
      return;
    }
    if (this.endOfData) return;
    this.endOfData = true;
    this.#watchHandover();
    this.push(null);
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
        if (socket.destroyed) return; // the dot never left: no record, the attempt is simply retried
        setTimeout(drained, 1);
      };
      drained();
    });
  }
}
