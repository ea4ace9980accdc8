// Network probes for `mailroom test-mailbox`, one step at a time so the diagnosis names the step
// that failed: DNS, TCP, TLS (implicit, or STARTTLS spoken in the mailbox's own protocol: SMTP,
// IMAP, POP3) with the certificate's details and whether it is trusted. No credentials are sent here.
import { lookup } from 'node:dns/promises';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type PeerCertificate, type TLSSocket } from 'node:tls';
import { readFile } from 'node:fs/promises';
import type { Security } from '../config/types.generated.js';
import { certificateProblems } from './certificate-problems.js';

export interface StepResult {
  step: string;
  status: 'ok' | 'warn' | 'fail' | 'skip';
  detail: string;
  /** What to do; one line per '\n'-separated part. */
  hint?: string;
}

export interface Endpoint {
  protocol: 'smtp' | 'imap' | 'pop3';
  host: string;
  port: number;
  security: Security;
  verifyCertificate: boolean;
  caFile: string | null;
  timeoutMs: number;
}

const ms = (t0: number) => `${Math.round(performance.now() - t0)} ms`;

export async function probeDns(host: string): Promise<StepResult> {
  if (isIP(host)) return { step: 'dns', status: 'ok', detail: `${host} is an IP address` };
  const t0 = performance.now();
  try {
    const addrs = await lookup(host, { all: true });
    return { step: 'dns', status: 'ok', detail: `${host} → ${addrs.map((a) => a.address).join(', ')} (${ms(t0)})` };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    return { step: 'dns', status: 'fail', detail: `${host} does not resolve (${code})`, hint: 'check the host name (typo? internal name not visible from here?)' };
  }
}

export function probeTcp(host: string, port: number, timeoutMs: number): Promise<StepResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const s = netConnect({ host, port });
    const done = (r: StepResult) => {
      s.destroy();
      resolve(r);
    };
    s.setTimeout(timeoutMs, () => done({ step: 'tcp', status: 'fail', detail: `no answer from ${host}:${port} within ${timeoutMs / 1000} s`, hint: 'a firewall drops the connection, or the host is down' }));
    s.once('connect', () => done({ step: 'tcp', status: 'ok', detail: `connected to ${host}:${port} (${ms(t0)})` }));
    s.once('error', (e: NodeJS.ErrnoException) =>
      done({ step: 'tcp', status: 'fail', detail: `${host}:${port}: ${e.code ?? e.message}`, hint: e.code === 'ECONNREFUSED' ? 'nothing listens on that port: check port and security (SMTP 465 / IMAP 993 / POP3 995 are tls; 587 / 143 / 110 starttls)' : 'check host, port and firewalls' }),
    );
  });
}

/** Read one server reply (a line, or an SMTP multi-line reply) from a plain socket. */
function reply(s: Socket, protocol: Endpoint['protocol'], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => finish(new Error(`no reply within ${timeoutMs / 1000} s`)), timeoutMs);
    const onData = (d: Buffer) => {
      buf += d.toString('latin1');
      const lines = buf.split('\r\n');
      if (lines.length < 2) return;
      const complete = lines.slice(0, -1);
      const last = complete.at(-1)!;
      if (protocol === 'smtp' && /^\d{3}-/.test(last)) return;
      if (protocol === 'imap' && last.startsWith('* ') && !/^\* (OK|NO|BAD|BYE|PREAUTH)/.test(last)) return;
      finish(null, complete.join('\n'));
    };
    const finish = (err: Error | null, text?: string) => {
      clearTimeout(timer);
      s.off('data', onData);
      s.off('error', onErr);
      if (err) reject(err);
      else resolve(text!);
    };
    const onErr = (e: Error) => finish(e);
    s.on('data', onData);
    s.once('error', onErr);
  });
}

async function startTls(s: Socket, e: Endpoint): Promise<void> {
  const send = (line: string) => s.write(line + '\r\n');
  // A server that accepts the connection but never greets is on the wrong port, or behind a
  // firewall or proxy that holds the connection open: say so, not "check security".
  const greeting = await reply(s, e.protocol, e.timeoutMs).catch((err: Error) => {
    throw Object.assign(err, { noGreeting: /^no reply within/.test(err.message) });
  });
  if (e.protocol === 'smtp') {
    if (!greeting.startsWith('220')) throw new Error(`unexpected greeting: ${greeting.slice(0, 120)}`);
    send('EHLO mailroom-test');
    const ehlo = await reply(s, 'smtp', e.timeoutMs);
    if (!/^250[ -]STARTTLS/im.test(ehlo)) throw Object.assign(new Error('the server does not offer STARTTLS'), { noStarttls: true });
    send('STARTTLS');
    const r = await reply(s, 'smtp', e.timeoutMs);
    if (!r.startsWith('220')) throw new Error(`STARTTLS refused: ${r.slice(0, 120)}`);
  } else if (e.protocol === 'imap') {
    send('a1 STARTTLS');
    const r = await reply(s, 'imap', e.timeoutMs);
    if (!/^a1 OK/im.test(r)) throw Object.assign(new Error(`STARTTLS refused: ${r.slice(0, 120)}`), { noStarttls: true });
  } else {
    send('STLS');
    const r = await reply(s, 'pop3', e.timeoutMs);
    if (!r.startsWith('+OK')) throw Object.assign(new Error(`STLS refused: ${r.slice(0, 120)}`), { noStarttls: true });
  }
}

function describeCert(c: PeerCertificate): { text: string; daysLeft: number } {
  const cn = c.subject?.CN ?? '?';
  const issuer = c.issuer?.CN ?? c.issuer?.O ?? '?';
  const until = new Date(c.valid_to);
  const daysLeft = Math.floor((until.getTime() - Date.now()) / 86_400_000);
  return { text: `certificate CN=${cn} issued by ${issuer}, valid until ${until.toISOString().slice(0, 10)} (${daysLeft} days)`, daysLeft };
}

/** OpenSSL's words for "the peer did not answer with TLS" (a plaintext protocol's greeting instead). */
function speaksPlainText(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return /WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|UNKNOWN_PROTOCOL|HTTP_REQUEST/.test(e.code ?? '') || /wrong version number|packet length too long|unknown protocol/i.test(e.message ?? '');
}

/** TLS as the mailbox is configured: implicit TLS, STARTTLS in its protocol, or none (warned). */
export async function probeTls(e: Endpoint): Promise<StepResult> {
  if (e.security === 'none') return { step: 'tls', status: 'warn', detail: 'security: none — plaintext, credentials and mail unencrypted', hint: 'use tls or starttls unless this is a loopback or test server' };
  let ca: Buffer | undefined;
  if (e.caFile) {
    try {
      ca = await readFile(e.caFile);
    } catch (err) {
      return { step: 'tls', status: 'fail', detail: `cannot read caFile ${e.caFile} (${(err as NodeJS.ErrnoException).code})`, hint: 'check caFile' };
    }
  }
  const t0 = performance.now();
  let plain: Socket | undefined;
  let secure: TLSSocket | undefined;
  try {
    if (e.security === 'starttls') {
      plain = netConnect({ host: e.host, port: e.port });
      await new Promise<void>((res, rej) => {
        plain!.once('connect', () => res());
        plain!.once('error', rej);
      });
      await startTls(plain, e);
    }
    // Connect without rejecting so the certificate can be described, then judge it ourselves.
    secure = tlsConnect({ host: e.host, port: e.port, ...(plain && { socket: plain }), ...(ca && { ca }), ...(!isIP(e.host) && { servername: e.host }), rejectUnauthorized: false, minVersion: 'TLSv1.2' });
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`TLS handshake not finished within ${e.timeoutMs / 1000} s`)), e.timeoutMs);
      secure!.once('secureConnect', () => (clearTimeout(timer), res()));
      secure!.once('error', (err) => (clearTimeout(timer), rej(err)));
    });
    const cert = secure.getPeerCertificate();
    const { text, daysLeft } = describeCert(cert);
    const how = `${e.security === 'starttls' ? 'STARTTLS, ' : ''}${secure.getProtocol() ?? 'TLS'} (${ms(t0)})`;
    // Both questions, each answered: trust (the chain) and identity (the name the host was given as).
    const p = certificateProblems(e.host, cert, secure.authorized ? null : secure.authorizationError, checkServerIdentity(e.host, cert));
    if (p.trust || p.name) {
      const detail = `${how}: ${text}; ${[p.trust && `NOT trusted: ${p.trust}`, p.name && `name mismatch: ${p.name}`].filter(Boolean).join('; ')}`;
      if (!e.verifyCertificate) return { step: 'tls', status: 'warn', detail, hint: 'verifyCertificate: false accepts it anyway; prefer caFile with the issuing CA' };
      return { step: 'tls', status: 'fail', detail, hint: p.hints.join('\n') };
    }
    if (daysLeft < 14) return { step: 'tls', status: 'warn', detail: `${how}: ${text}, trusted`, hint: 'the certificate expires soon' };
    return { step: 'tls', status: 'ok', detail: `${how}: ${text}, trusted${e.caFile ? ' (caFile)' : ''}` };
  } catch (err) {
    const m = (err as Error).message;
    if ((err as { noStarttls?: boolean }).noStarttls) return { step: 'tls', status: 'fail', detail: m, hint: 'use security: tls with the implicit-TLS port, or security: none only for a test server' };
    if ((err as { noGreeting?: boolean }).noGreeting) return { step: 'tls', status: 'fail', detail: `STARTTLS failed: ${m}`, hint: 'the server accepted the connection but sent no greeting: a wrong port (another service listens there), or a firewall or proxy holding the connection' };
    if (/^TLS handshake not finished/.test(m)) return { step: 'tls', status: 'fail', detail: `TLS failed: ${m}`, hint: 'the server accepted the connection but did not answer the TLS handshake: a wrong port, or a firewall or proxy holding the connection' };
    if (speaksPlainText(err)) return { step: 'tls', status: 'fail', detail: 'TLS failed: the server answered the TLS handshake in plain text', hint: 'the port speaks plain text: use security: starttls or none (implicit TLS is on 465, 993, 995)' };
    return { step: 'tls', status: 'fail', detail: `${e.security === 'starttls' ? 'STARTTLS' : 'TLS'} failed: ${m}`, hint: 'check security against the port (465/993/995 are tls; 587/143/110 starttls)' };
  } finally {
    secure?.destroy();
    plain?.destroy();
  }
}
