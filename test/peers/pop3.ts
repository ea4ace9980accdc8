// Why this exists: node-pop3 0.11.0 (the POP3 client mailroom uses) has two gaps that tests and
// the poller must work around, shown and exercised by peers.test.ts:
//  1. RETR()/TOP() return `buffer.toString()` (UTF-8 decoding), which replaces every non-UTF-8
//     byte (e.g. Latin-1 0xE9) with U+FFFD: the string is LOSSY. The raw bytes are available from
//     `command('RETR', n)`, which resolves `[info, Readable]`; the Readable yields the raw
//     Buffers of the multi-line response, still dot-stuffed and without the final CRLF (the
//     library strips `\r\n.\r\n` as a whole). `retrRaw()` turns that into the exact message.
//  2. There is no STLS support (`tls: true` means implicit TLS, port 995 style).
//     `connectPop3Stls()` upgrades a plain connection in place.
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import Pop3Command from 'node-pop3';
import { readMultiline, unstuffDots, upgradeStls } from '../../src/inbound/pop3-client.js';


export { unstuffDots };

/**
 * Exact bytes of message `n` via node-pop3 without UTF-8 decoding.
 * node-pop3's stream is dot-stuffed and normally lacks the message's final CRLF (it strips
 * "\r\n.\r\n" when that arrives at the end of a TCP chunk) but keeps it when the terminator ".\r\n"
 * arrives as a chunk of its own; the "+OK <n> octets" size decides which (Dovecot's size is
 * exact), falling back to "a POP3 message always ends with CRLF".
 */
export async function retrRaw(pop: Pop3Command, n: number, timeoutMs = 30_000): Promise<Buffer> {
  await pop._connect();
  return readMultiline(pop, ['RETR', n], timeoutMs);
}

export interface Pop3StlsOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  /** e.g. { ca: readFileSync(caFile) }; verification is on unless rejectUnauthorized: false. */
  tlsOptions?: ConnectionOptions;
  /** SNI / certificate name to verify; default the host (no SNI is sent for an IP address). */
  servername?: string;
  timeout?: number;
}

/**
 * Connect in plaintext, issue STLS, upgrade the same socket to TLS, then USER/PASS.
 * Returns a logged-in Pop3Command whose UIDL/LIST/RETR/... run over TLS.
 */
export async function connectPop3Stls(o: Pop3StlsOptions): Promise<Pop3Command> {
  const popOpts: ConstructorParameters<typeof Pop3Command>[0] = { host: o.host, port: o.port, user: o.user, password: o.password };
  if (o.timeout !== undefined) popOpts.timeout = o.timeout;
  const pop = new Pop3Command(popOpts);
  await pop.connect(); // greeting only (Pop3Connection.connect), no USER/PASS yet
  const servername = o.servername ?? (isIP(o.host) ? undefined : o.host);
  await upgradeStls(pop, o.host, { ...o.tlsOptions, ...(servername ? { servername } : {}) });
  await pop.command('USER', o.user);
  const [passInfo] = await pop.command('PASS', o.password);
  pop._PASSInfo = passInfo; // makes node-pop3's _connect() treat the session as logged in
  return pop;
}
