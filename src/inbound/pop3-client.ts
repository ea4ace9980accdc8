// POP3 over node-pop3, with the two gaps it leaves filled (see test/peers/pop3.ts, which proves them):
// 1. RETR()/TOP() decode as UTF-8 and lose 8-bit bytes, so messages are read from the raw response
//    stream of `command()`, un-dot-stuffed, with the final CRLF restored from the octet count.
// 2. No STLS: a plain connection is upgraded in place before USER/PASS.
// node-pop3 detects the end of a multi-line response per TCP chunk; a read that never ends is cut by
// a timeout, and the poller reconnects (classified as a protocol error, never a lost message).
import { once } from 'node:events';
import { isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import Pop3Command from 'node-pop3';
import type { Security } from '../config/types.generated.js';
import type { Credentials } from './credentials.js';

const CRLF = Buffer.from('\r\n');

export function unstuffDots(data: Buffer): Buffer {
  const out: Buffer[] = [];
  for (let start = 0; start < data.length; ) {
    let end = data.indexOf(CRLF, start);
    end = end < 0 ? data.length : end + 2;
    out.push(data[start] === 0x2e ? data.subarray(start + 1, end) : data.subarray(start, end));
    start = end;
  }
  return Buffer.concat(out);
}

export interface Pop3Options {
  host: string;
  port: number;
  security: Security;
  tls: ConnectionOptions;
  credentials: Credentials;
  timeoutMs?: number;
}

export class Pop3Client {
  private constructor(private pop: Pop3Command, private timeoutMs: number) {}

  static async connect(o: Pop3Options): Promise<Pop3Client> {
    const timeout = o.timeoutMs ?? 60_000;
    const servername = isIP(o.host) ? undefined : o.host;
    const pass = 'pass' in o.credentials ? o.credentials.pass : '';
    const pop = new Pop3Command({
      host: o.host,
      port: o.port,
      user: o.credentials.user,
      password: pass,
      timeout,
      tls: o.security === 'tls',
      // node-pop3 defaults servername to the host, an IP here: '' sends no SNI (RFC 6066 forbids IPs)
      // while the certificate is still checked against the IP.
      tlsOptions: { ...o.tls, servername: servername ?? '' } as import('node:tls').TlsOptions,
      ...(servername ? { servername } : {}),
    });
    try {
      await pop.connect(); // greeting only
      if (o.security === 'starttls') await upgradeStls(pop, o.host, { ...o.tls, ...(servername ? { servername } : {}) });
      if ('accessToken' in o.credentials) {
        const sasl = Buffer.from(`user=${o.credentials.user}\x01auth=Bearer ${o.credentials.accessToken}\x01\x01`).toString('base64');
        const [info] = await pop.command('AUTH', 'XOAUTH2', sasl);
        pop._PASSInfo = info;
      } else {
        await pop.command('USER', o.credentials.user);
        const [info] = await pop.command('PASS', pass);
        pop._PASSInfo = info; // node-pop3 treats the session as logged in from here
      }
    } catch (e) {
      // A refused login (or a failed STLS) left the connection open: close it, or every failed poll
      // holds a socket until the server times it out (and `test-mailbox` waited for it: ~20 s).
      (pop._socket as Socket | null)?.destroy();
      throw e;
    }
    return new Pop3Client(pop, timeout);
  }

  /** message number → UIDL */
  async uidl(): Promise<Map<number, string>> {
    const rows = (await this.pop.UIDL()) as string[][];
    return new Map(rows.filter((r) => r.length >= 2).map((r) => [Number(r[0]), String(r[1])]));
  }

  /** message number → size in octets */
  async list(): Promise<Map<number, number>> {
    const rows = (await this.pop.LIST()) as string[][];
    return new Map(rows.filter((r) => r.length >= 2).map((r) => [Number(r[0]), Number(r[1])]));
  }

  /** The exact bytes of message n. */
  retr(n: number): Promise<Buffer> {
    return this.multiline(['RETR', n]);
  }

  /** Header block (and `lines` body lines) of message n, exact bytes. */
  top(n: number, lines = 0): Promise<Buffer> {
    return this.multiline(['TOP', n, lines]);
  }

  async dele(n: number): Promise<void> {
    await this.pop.command('DELE', n);
  }

  /** QUIT: only now do DELEs take effect (the UPDATE state). Throws if the server refuses. */
  async quit(): Promise<void> {
    await this.pop.QUIT();
  }

  /** Drop the connection without QUIT: no DELE takes effect. */
  destroy(): void {
    (this.pop._socket as Socket | null)?.destroy();
  }

  private multiline(args: (string | number)[]): Promise<Buffer> {
    return readMultiline(this.pop, args, this.timeoutMs);
  }

}

/**
 * The exact bytes of a multi-line response (RETR, TOP) from node-pop3's raw stream: un-dot-stuffed,
 * the final CRLF restored from the octet count (node-pop3 strips it with the terminator).
 */
export async function readMultiline(pop: Pop3Command, args: (string | number)[], timeoutMs: number): Promise<Buffer> {
  const [info, stream] = await pop.command(...(args as [string, ...(string | number)[]]));
  const chunks: Buffer[] = [];
  const timer = setTimeout(() => stream.destroy(Object.assign(new Error(`${args[0]}: end of response not seen within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
  try {
    for await (const c of stream) chunks.push(c as Buffer);
  } finally {
    clearTimeout(timer);
  }
  let body = unstuffDots(Buffer.concat(chunks));
  const octets = /^(\d+)\s+octets/i.exec(info);
  const expected = octets ? Number(octets[1]) : undefined;
  if (expected !== undefined ? body.length === expected - 2 : body.length > 0 && !body.subarray(-2).equals(CRLF)) body = Buffer.concat([body, CRLF]);
  return body;
}

/** STLS: upgrade node-pop3's plain connection in place (node-pop3 has no STLS of its own). */
export async function upgradeStls(pop: Pop3Command, host: string, tls: ConnectionOptions): Promise<void> {
  await pop.command('STLS');
  const plain = pop._socket as Socket | null;
  if (!plain) throw Object.assign(new Error('STLS: connection closed'), { code: 'ECONNRESET' });
  const listeners = plain.listeners('data') as ((b: Buffer) => void)[];
  plain.removeAllListeners('data');
  const secure = tlsConnect({ ...tls, socket: plain, host });
  try {
    await once(secure, 'secureConnect');
  } catch (err) {
    plain.destroy();
    throw err;
  }
  for (const l of listeners) secure.on('data', l);
  secure.on('error', (err) => {
    if (pop.listenerCount('error') > 0) pop.emit('error', err);
  });
  pop._socket = secure;
}
