// One nodemailer pooled SMTP transport per sending mailbox (per server settings): connections are
// reused across messages, at most `maxConnections` of them. Credentials are read when the transport
// is created (a rotated `passwordFile` is picked up after an auth failure drops the transport); the
// SMTP timeout (connection, greeting, socket) is the mailbox's `timeout`, never below 10 s.
// nodemailer's own requeue is off (maxRequeues 0): only the outbox decides whether a message that
// may have reached the server is sent again (see commit-gate.ts).
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import SMTPPool from 'nodemailer/lib/smtp-pool';
import type { ResolvedOutbound } from '../config/snapshot.js';
import { credentialsFor, tlsOptionsFor } from '../inbound/credentials.js';
import type { Logger } from '../observability/logger.js';
import { activeOAuthManager } from '../oauth/registry.js';
import { smtpOAuth2 } from '../oauth/smtp-auth.js';
import { CommitGate } from './commit-gate.js';
import { sendViaGmail } from './gmail-send.js';
import { sendViaGraph } from './graph-send.js';
import { effectiveTimeout } from './resolve.js';

import type { SendResult } from './send-result.js';

export type { SendResult };

interface PoolEntry {
  key: string;
  mailer: Promise<SMTPPool>;
  inFlight: number;
  retired: boolean;
  /** The mailbox whose cached OAuth2 tokens go with the transport (auth failure, changed settings). */
  oauthLabel: string | null;
}

/** Options nodemailer gets for a server (exported for test-mailbox, which checks the same way). */
export async function smtpOptions(server: ResolvedOutbound, label: string) {
  const creds = server.auth ? await credentialsFor(label, server.auth) : null;
  const tls = await tlsOptionsFor(server);
  const timeout = effectiveTimeout(server.timeoutMs);
  return {
    host: server.host,
    port: server.port,
    secure: server.security === 'tls',
    requireTLS: server.security === 'starttls',
    ignoreTLS: server.security === 'none',
    // OAuth2: the token above proved the grant works; each pooled connection asks the cache again.
    ...(creds && { auth: 'pass' in creds ? { user: creds.user, pass: creds.pass } : smtpOAuth2(label, server.auth!) }),
    tls: { ...tls, ...(isIP(server.host) ? {} : { servername: server.host }) },
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    logger: false,
    debug: false,
  };
}

/**
 * The message object nodemailer's pool sends: our stored bytes behind a CommitGate, the envelope
 * as stored. (nodemailer's Mail front-end would rebuild a MIME tree around bytes we built at enqueue.)
 */
function mailFor(envelope: { from: string; to: string[] }, messageId: string, gate: CommitGate) {
  const id = `<${messageId}>`;
  return {
    data: {},
    message: {
      getEnvelope: () => ({ from: envelope.from, to: [...envelope.to] }),
      messageId: () => id,
      getHeader: (name: string) => (name.toLowerCase() === 'message-id' ? id : undefined),
      createReadStream: () => gate,
    },
  };
}

export class TransportPool {
  readonly #pools = new Map<string, PoolEntry>();

  constructor(private readonly log: Logger) {}

  /**
   * Send `raw` to `envelope`. `handedOver` is called (synchronously, once) when the end of data has
   * been handed to the kernel; `committed` in the result says whether the end of data went out at all.
   */
  async send(key: string, label: string, server: ResolvedOutbound, envelope: { from: string; to: string[] }, messageId: string, raw: Buffer, handedOver: () => void): Promise<{ result?: SendResult; error?: unknown; committed: boolean }> {
    if (server.transport === 'graph') return sendViaGraph(label, server, envelope, raw, handedOver);
    if (server.transport === 'gmail') return sendViaGmail(label, server, envelope, raw, handedOver);
    const entry = this.#entry(key, label, server);
    const gate = new CommitGate(raw, handedOver);
    entry.inFlight++;
    try {
      const pool = await entry.mailer;
      const info = await new Promise<{ response?: string; accepted?: unknown[]; rejectedErrors?: { recipient?: string; responseCode?: number; response?: string }[] }>((resolve, reject) =>
        pool.send(mailFor(envelope, messageId, gate) as unknown as Parameters<SMTPPool['send']>[0], (err, info) => (err ? reject(err) : resolve(info as never))),
      );
      return {
        committed: gate.endOfData,
        result: {
          response: String(info.response ?? ''),
          accepted: (info.accepted ?? []).map((a) => (typeof a === 'string' ? a : String((a as { address?: string }).address ?? ''))),
          rejectedErrors: (info.rejectedErrors ?? []).map((e) => ({ recipient: String(e.recipient ?? ''), responseCode: e.responseCode ?? null, response: String(e.response ?? '') })),
        },
      };
    } catch (error) {
      return { error, committed: gate.endOfData };
    } finally {
      entry.inFlight--;
      if (entry.retired && entry.inFlight === 0) void this.#close(entry);
    }
  }

  /** Forget a transport (auth failure, changed settings): new sends get a fresh one. */
  drop(key: string): void {
    const entry = this.#pools.get(key);
    if (!entry) return;
    this.#pools.delete(key);
    entry.retired = true;
    // A refused token must not be handed to the next transport (servers that answer 535 at once).
    if (entry.oauthLabel) activeOAuthManager()?.invalidate(entry.oauthLabel);
    if (entry.inFlight === 0) void this.#close(entry);
  }

  /** Close transports whose key is not in `keep` (config changed): each closes once idle. */
  retainOnly(keep: Set<string>): void {
    for (const key of [...this.#pools.keys()]) if (!keep.has(key)) this.drop(key);
  }

  get size(): number {
    return this.#pools.size;
  }

  async closeAll(): Promise<void> {
    const all = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(all.map((e) => this.#close(e, true)));
  }

  #entry(key: string, label: string, server: ResolvedOutbound): PoolEntry {
    let entry = this.#pools.get(key);
    if (!entry) {
      const mailer = this.#create(label, server);
      entry = { key, mailer, inFlight: 0, retired: false, oauthLabel: server.auth?.oauth2 ? label : null };
      const created = entry;
      // A transport that cannot even be created (unreadable secret) must not stick.
      mailer.catch(() => this.#pools.get(key) === created && this.#pools.delete(key));
      this.#pools.set(key, entry);
    }
    return entry;
  }

  async #create(label: string, server: ResolvedOutbound): Promise<SMTPPool> {
    const pool = new SMTPPool({
      ...(await smtpOptions(server, label)),
      maxConnections: server.maxConnections,
      maxMessages: 100,
      maxRequeues: 0,
    });
    // The pool reports OAuth2 token events to its Mail front-end, which we do not use.
    const front = Object.assign(new EventEmitter(), { get: () => undefined });
    (pool as unknown as { mailer: unknown }).mailer = front;
    pool.on('error', (err: Error) => this.log.debug({ mailbox: label, err: { message: err.message } }, 'smtp transport error'));
    return pool;
  }

  async #close(entry: PoolEntry, force = false): Promise<void> {
    try {
      (await entry.mailer).close(force ? { force: true } : undefined);
    } catch {
      // never created
    }
  }
}
