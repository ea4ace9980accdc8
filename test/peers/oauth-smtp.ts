// Why this exists: outbound XOAUTH2 must be tested against a real SMTP conversation. This is
// smtp-server in-process on loopback offering AUTH XOAUTH2 only; `onAuth` accepts a login when the
// local OAuth2 server (test/peers/oauth.ts) says the bearer token is active and was issued for that
// user, and refuses it otherwise the way Gmail does (334 with the JSON error status, then 535). It records every login attempt and accepted message.
import { SMTPServer } from 'smtp-server';
import type { OAuthPeer } from './oauth.js';

export interface OAuthSmtpMessage {
  from: string;
  to: string[];
  raw: Buffer;
  /** The user the token was issued for. */
  user: string;
}

export interface OAuthSmtpPeer {
  host: string;
  port: number;
  messages: OAuthSmtpMessage[];
  /** Every AUTH attempt: method, user, whether the token was accepted. */
  logins: { method: string; user: string; ok: boolean }[];
  /** Refuse a bad token with 535 at once instead of the 334 challenge (some servers do). */
  refuseAtOnce: boolean;
  waitFor(n: number, timeoutMs?: number): Promise<OAuthSmtpMessage[]>;
  /** Close every client connection (a pooled client must connect and authenticate again). */
  dropConnections(): void;
  close(): Promise<void>;
}

export async function startOAuthSmtpServer(oauth: OAuthPeer): Promise<OAuthSmtpPeer> {
  let peer: OAuthSmtpPeer | null = null;
  const messages: OAuthSmtpMessage[] = [];
  const logins: OAuthSmtpPeer['logins'] = [];
  const server = new SMTPServer({
    authMethods: ['XOAUTH2'],
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    name: 'localhost',
    onAuth(auth, _session, cb) {
      const user = auth.username ?? '';
      const ok = auth.method === 'XOAUTH2' && typeof auth.accessToken === 'string' && oauth.isActive(auth.accessToken, user);
      logins.push({ method: auth.method, user, ok });
      // Like Gmail and Microsoft 365: a 334 challenge with the JSON error, then 535 (RFC 7628 3.2.2).
      if (!ok && peer?.refuseAtOnce) return cb(Object.assign(new Error('5.7.3 Authentication unsuccessful'), { responseCode: 535 }));
      if (!ok) return cb(null, { data: { status: '401', schemes: 'bearer', scope: 'https://mail.google.com/' } });
      cb(null, { user });
    },
    onMailFrom(_a, session, cb) {
      cb(session.user ? undefined : Object.assign(new Error('5.7.0 Authentication required'), { responseCode: 530 }));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.once('end', () => {
        messages.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks), user: String(session.user ?? '') });
        cb(null);
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as { port: number }).port;
  peer = {
    host: '127.0.0.1',
    port,
    messages,
    logins,
    refuseAtOnce: false,
    async waitFor(n, timeoutMs = 10_000) {
      const end = Date.now() + timeoutMs;
      while (messages.length < n) {
        if (Date.now() > end) throw new Error(`OAuth SMTP peer: expected ${n} message(s), got ${messages.length}; logins ${JSON.stringify(logins)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return messages;
    },
    dropConnections() {
      for (const c of (server as unknown as { connections: Set<{ close(): void }> }).connections) c.close();
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  return peer;
}
