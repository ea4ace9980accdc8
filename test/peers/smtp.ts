// Why this exists: mailroom's outbound SMTP must be tested against a real SMTP conversation.
// This runs nodemailer's `smtp-server` in-process on a free loopback port, records every
// accepted message (envelope, exact raw bytes, authenticated user), and lets a test script
// failures (e.g. 451 for the first N tries, or 550 always) at MAIL, RCPT or DATA.
import { readFileSync } from 'node:fs';
import {
  SMTPServer,
  type SMTPServerAddress,
  type SMTPServerOptions,
  type SMTPServerSession,
} from 'smtp-server';
import { freePort } from './free-port.js';

export interface SmtpReply {
  /** SMTP reply code; >= 400 rejects, 2xx accepts with this message. */
  code: number;
  message: string;
}

export interface SmtpEnvelope {
  /** MAIL FROM address, '' for the null sender `<>`. */
  from: string;
  to: string[];
}

export interface SmtpMessage {
  envelope: SmtpEnvelope;
  /** Exact DATA bytes (dot-unstuffed, without the terminating `.`). */
  raw: Buffer;
  /** Username the client authenticated as, if it did. */
  auth?: string;
  /** Whether the session was TLS (implicit or STARTTLS) when DATA was sent. */
  secure: boolean;
}

export type SmtpStage = 'mail' | 'rcpt' | 'data';

export interface SmtpRejection {
  stage: SmtpStage;
  code: number;
  message: string;
  envelope: SmtpEnvelope;
  /** The address refused at MAIL/RCPT. */
  address?: string;
}

export interface StartSmtpOptions {
  /** When given, AUTH PLAIN/LOGIN must match (535 otherwise) and is required before MAIL. */
  auth?: { user: string; pass: string };
  /** Decide on each AUTH (after `auth`'s check passed): a reply refuses it. A hostile server may echo the password. */
  onAuth?: (user: string, pass: string) => SmtpReply | void;
  /** Implicit TLS (SMTPS) with `certs` (or smtp-server's built-in self-signed cert). */
  secure?: boolean;
  /** Offer STARTTLS. Default: true when `certs` are given, false otherwise. */
  starttls?: boolean;
  certs?: { certFile: string; keyFile: string };
  /** Advertised SIZE limit in bytes; bigger messages get 552. */
  size?: number;
  /** Decide on each RCPT TO; return a reply to override (>= 400 refuses). */
  onRcpt?: (address: string, session: SMTPServerSession) => SmtpReply | void;
  /** Decide on each message after DATA; return a reply to override (>= 400 refuses). */
  onData?: (raw: Buffer, envelope: SmtpEnvelope) => SmtpReply | void;
}

export interface SmtpPeer {
  host: string;
  port: number;
  /** Accepted messages, in order. */
  messages: SmtpMessage[];
  /** Every refused MAIL/RCPT/DATA, in order. */
  rejected: SmtpRejection[];
  /** How many MAIL, RCPT and DATA commands reached the decision point (accepted or not). */
  attempts: Record<SmtpStage, number>;
  /** Reply with `reply` to the next `n` commands of `stage` (default 'data'), then go back to normal. */
  failNext(n: number, reply: SmtpReply, stage?: SmtpStage): void;
  /** Reply with `reply` to every command of `stage` (default 'data') until acceptAll(). */
  failAlways(reply: SmtpReply, stage?: SmtpStage): void;
  /** Drop all scripted failures. */
  acceptAll(): void;
  /** Forget recorded messages, rejections and attempt counters. */
  clear(): void;
  /** Resolves with the messages once at least `n` were accepted; rejects after `timeoutMs` (default 5000). */
  waitFor(n: number, timeoutMs?: number): Promise<SmtpMessage[]>;
  close(): Promise<void>;
}

function smtpError(reply: SmtpReply): Error {
  return Object.assign(new Error(reply.message), { responseCode: reply.code });
}

function envelopeOf(session: SMTPServerSession): SmtpEnvelope {
  const from = session.envelope.mailFrom;
  return {
    from: from ? from.address : '',
    to: session.envelope.rcptTo.map((r: SMTPServerAddress) => r.address),
  };
}

export async function startSmtpServer(opts: StartSmtpOptions = {}): Promise<SmtpPeer> {
  const host = '127.0.0.1';
  const messages: SmtpMessage[] = [];
  const rejected: SmtpRejection[] = [];
  const attempts: Record<SmtpStage, number> = { mail: 0, rcpt: 0, data: 0 };
  const scripted: Record<SmtpStage, { left: number; reply: SmtpReply } | null> = { mail: null, rcpt: null, data: null };
  let waiters: (() => void)[] = [];

  const scriptedReply = (stage: SmtpStage): SmtpReply | undefined => {
    const s = scripted[stage];
    if (!s || s.left <= 0) return undefined;
    s.left--;
    if (s.left <= 0) scripted[stage] = null;
    return s.reply;
  };

  const starttls = opts.starttls ?? opts.certs !== undefined;
  const disabled: string[] = [];
  if (!starttls) disabled.push('STARTTLS');

  const options: SMTPServerOptions = {
    secure: opts.secure ?? false,
    hideSTARTTLS: !starttls,
    disabledCommands: disabled,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: opts.auth === undefined,
    allowInsecureAuth: true,
    disableReverseLookup: true,
    logger: false,
    closeTimeout: 1000,
    name: 'localhost',
    banner: 'mailroom test SMTP peer',
    onAuth(auth, _session, callback) {
      const username = auth.username ?? '';
      if (opts.auth && (username !== opts.auth.user || auth.password !== opts.auth.pass)) {
        callback(smtpError({ code: 535, message: 'Error: Authentication credentials invalid' }));
        return;
      }
      const refused = opts.onAuth?.(username, auth.password ?? '');
      if (refused) return callback(smtpError(refused));
      callback(null, { user: username });
    },
    onMailFrom(address, session, callback) {
      attempts.mail++;
      const reply = scriptedReply('mail');
      if (reply && reply.code >= 400) {
        rejected.push({ stage: 'mail', ...reply, envelope: envelopeOf(session), address: address.address });
        callback(smtpError(reply));
        return;
      }
      callback();
    },
    onRcptTo(address, session, callback) {
      attempts.rcpt++;
      const reply = scriptedReply('rcpt') ?? opts.onRcpt?.(address.address, session) ?? undefined;
      if (reply && reply.code >= 400) {
        rejected.push({ stage: 'rcpt', ...reply, envelope: envelopeOf(session), address: address.address });
        callback(smtpError(reply));
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.once('error', (err: Error) => callback(err));
      stream.once('end', () => {
        attempts.data++;
        const raw = Buffer.concat(chunks);
        const envelope = envelopeOf(session);
        if (stream.sizeExceeded) {
          // smtp-server itself answers 552 in this case.
          rejected.push({ stage: 'data', code: 552, message: 'message exceeds fixed maximum message size', envelope });
          callback(null);
          return;
        }
        const reply = scriptedReply('data') ?? opts.onData?.(raw, envelope) ?? undefined;
        if (reply && reply.code >= 400) {
          rejected.push({ stage: 'data', ...reply, envelope });
          callback(smtpError(reply));
          return;
        }
        const msg: SmtpMessage = { envelope, raw, secure: session.secure };
        if (typeof session.user === 'string' && session.user !== '') msg.auth = session.user;
        messages.push(msg);
        const w = waiters;
        waiters = [];
        for (const f of w) f();
        callback(null, reply?.message);
      });
    },
  };
  if (opts.size !== undefined) options.size = opts.size;
  if (opts.certs) {
    options.key = readFileSync(opts.certs.keyFile);
    options.cert = readFileSync(opts.certs.certFile);
  }

  const server = new SMTPServer(options);
  server.on('error', () => {
    // connection-level errors (client resets etc.) are expected in failure tests
  });

  let port = 0;
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      await new Promise<void>((resolve, reject) => {
        const onErr = (err: Error) => reject(err);
        server.server.once('error', onErr);
        server.listen(port, host, () => {
          server.server.off('error', onErr);
          resolve();
        });
      });
      break;
    } catch (err) {
      if (attempt >= 2 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }

  let closed: Promise<void> | null = null;
  return {
    host,
    port,
    messages,
    rejected,
    attempts,
    failNext(n, reply, stage = 'data') {
      scripted[stage] = n > 0 ? { left: n, reply } : null;
    },
    failAlways(reply, stage = 'data') {
      scripted[stage] = { left: Infinity, reply };
    },
    acceptAll() {
      scripted.mail = scripted.rcpt = scripted.data = null;
    },
    clear() {
      messages.length = 0;
      rejected.length = 0;
      attempts.mail = attempts.rcpt = attempts.data = 0;
    },
    waitFor(n, timeoutMs = 5000) {
      return new Promise<SmtpMessage[]>((resolve, reject) => {
        const check = (): boolean => {
          if (messages.length >= n) {
            clearTimeout(timer);
            resolve(messages);
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== onMessage);
          reject(
            new Error(
              `SMTP peer: expected ${n} message(s) within ${timeoutMs} ms, got ${messages.length} ` +
                `(rejected ${rejected.length}: ${rejected.map((r) => `${r.stage} ${r.code}`).join(', ') || 'none'})`,
            ),
          );
        }, timeoutMs);
        const onMessage = (): void => {
          if (!check()) waiters.push(onMessage);
        };
        if (!check()) waiters.push(onMessage);
      });
    },
    close() {
      closed ??= new Promise<void>((resolve) => server.close(() => resolve()));
      return closed;
    },
  };
}
