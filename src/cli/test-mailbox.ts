// `mailroom test-mailbox --config <path> <mailbox> [--send-to <address>]`: the "test connection"
// button of the admin screens mailroom replaces. Checks, step by step, DNS, TCP, TLS (and the
// certificate), authentication and, for the inbound side, the folder; for the outbound side it can
// send a test message. Prints a diagnosis a person can act on; exits 1 when a step fails. Secrets
// are never printed: server messages are redacted and every secret read is scrubbed from the output
// (encoded forms too, see secret-scrub.ts).
import { peekStore, type StatePeek } from '../store/peek.js';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { loadConfig } from '../config/load.js';
import { formatProblem } from '../config/problems.js';
import type { ResolvedAuth, ResolvedInbound, ResolvedMailbox, ResolvedOutbound } from '../config/snapshot.js';
import { credentialsFor, tlsOptionsFor, type Credentials } from '../inbound/credentials.js';
import { classifyError, hintFor, redactMessage } from '../inbound/errors.js';
import { Pop3Client } from '../inbound/pop3-client.js';
import { scrubSecrets } from '../observability/secret-scrub.js';
import { isValidEmail } from '../outbound/address.js';
import { compose } from '../outbound/compose.js';
import { classifySendError, sendHint } from '../outbound/errors.js';
import { probeDns, probeTcp, probeTls, type Endpoint, type StepResult } from '../outbound/probe.js';
import { effectiveTimeout } from '../outbound/resolve.js';
import { smtpOptions } from '../outbound/transport-pool.js';
import { probeAccessToken } from '../oauth/probe-token.js';
import { probeGmailInbound, probeGmailSend } from './test-mailbox-gmail.js';
import { probeGraphInbound, probeGraphSend } from './test-mailbox-graph.js';
import { isTokenEndpointError } from '../oauth/token-errors.js';

/** An interactive check should not hang for the 180 s a sender may wait. */
const PROBE_TIMEOUT_MS = 20_000;

interface Ctx {
  /** The daemon's store (its OAuth2 state is read, never written). */
  peek: StatePeek;
  secrets: string[];
  lines: string[];
  failed: boolean;
}

function print(ctx: Ctx, r: StepResult): void {
  const tag = { ok: 'ok  ', warn: 'warn', fail: 'FAIL', skip: 'skip' }[r.status];
  ctx.lines.push(`    ${tag}  ${r.step.padEnd(7)} ${redactMessage(r.detail)}`);
  if (r.hint && r.status !== 'ok') for (const h of r.hint.split('\n')) ctx.lines.push(`                  → ${h}`);
  if (r.status === 'fail') ctx.failed = true;
}

/**
 * The credentials to log in with. OAuth2: a token from probeAccessToken (client_credentials, or a
 * refresh that cannot rotate a token the daemon relies on); a skip step when none may be asked for.
 */
async function creds(ctx: Ctx, id: string, auth: ResolvedAuth | null): Promise<Credentials | StepResult> {
  try {
    if (auth?.oauth2) {
      const t = await probeAccessToken(id, auth, ctx.peek);
      ctx.secrets.push(...t.secrets);
      if ('skip' in t) return { step: 'auth', status: 'skip', detail: `(OAuth2 refresh_token: ${t.skip})` };
      ctx.lines.push(`    note  oauth2  ${t.note}`);
      return { user: auth.user, accessToken: t.accessToken };
    }
    const c = await credentialsFor(id, auth);
    ctx.secrets.push('pass' in c ? c.pass : c.accessToken);
    return c;
  } catch (e) {
    const hint = isTokenEndpointError(e) ? e.hint ?? (e.permanent ? 'the identity provider refused the grant for good: renew the client secret or refresh token (consent, MFA)' : 'the token endpoint could not be used from here: check tokenUrl, the network and the client settings') : 'the password file or OAuth2 setup of the mailbox is not usable from here';
    return { step: 'auth', status: 'fail', detail: (e as Error).message, hint };
  }
}

/** Run the network steps; false when one failed (the rest is skipped). */
async function network(ctx: Ctx, e: Endpoint): Promise<boolean> {
  for (const step of [() => probeDns(e.host), () => probeTcp(e.host, e.port, e.timeoutMs), () => probeTls(e)]) {
    const r = await step();
    print(ctx, r);
    if (r.status === 'fail') return false;
  }
  return true;
}

async function inbound(ctx: Ctx, id: string, mb: ResolvedMailbox, i: ResolvedInbound): Promise<void> {
  if (i.protocol === 'graph' || i.protocol === 'gmail') return apiInbound(ctx, id, mb, i);
  ctx.lines.push(`  inbound: ${i.protocol} ${i.host}:${i.port} ${i.security}, folder ${i.folder}`);
  const e: Endpoint = { protocol: i.protocol, host: i.host, port: i.port, security: i.security, verifyCertificate: i.verifyCertificate, caFile: i.caFile, timeoutMs: PROBE_TIMEOUT_MS };
  if (!(await network(ctx, e))) return print(ctx, { step: 'auth', status: 'skip', detail: 'not tried (the connection failed)' });
  const c = await creds(ctx, id, mb.auth);
  if (!('user' in c)) return print(ctx, c);
  const tls = await tlsOptionsFor(i);
  if (i.protocol === 'pop3') {
    let pop: Pop3Client | null = null;
    try {
      pop = await Pop3Client.connect({ host: i.host, port: i.port, security: i.security, tls, credentials: c, timeoutMs: PROBE_TIMEOUT_MS });
      print(ctx, { step: 'auth', status: 'ok', detail: `logged in as ${c.user} (POP3)` });
      const list = await pop.list();
      print(ctx, { step: 'folder', status: 'ok', detail: `maildrop holds ${list.size} message(s) (POP3 has no folders)` });
      await pop.quit();
    } catch (err) {
      const k = classifyError(err, ctx.secrets);
      print(ctx, { step: 'auth', status: 'fail', detail: k.message, hint: hintFor(k.class) });
      pop?.destroy();
    }
    return;
  }
  const client = new ImapFlow({
    host: i.host,
    port: i.port,
    secure: i.security === 'tls',
    doSTARTTLS: i.security === 'starttls' ? true : i.security === 'none' ? false : undefined,
    auth: c,
    tls,
    logger: false,
    connectionTimeout: PROBE_TIMEOUT_MS,
    greetingTimeout: PROBE_TIMEOUT_MS,
    socketTimeout: PROBE_TIMEOUT_MS,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    const k = classifyError(err, ctx.secrets);
    return print(ctx, { step: 'auth', status: 'fail', detail: k.message, hint: hintFor(k.class) });
  }
  print(ctx, { step: 'auth', status: 'ok', detail: `logged in as ${c.user} (IMAP)` });
  try {
    const box = await client.mailboxOpen(i.folder, { readOnly: true });
    print(ctx, { step: 'folder', status: 'ok', detail: `${i.folder}: ${box.exists} message(s), UIDVALIDITY ${String(box.uidValidity)}` });
    if (i.afterFetch === 'move' && i.moveTo) {
      const there = (await client.list()).some((f) => f.path === i.moveTo);
      print(ctx, { step: 'moveTo', status: there ? 'ok' : 'warn', detail: `${i.moveTo} ${there ? 'exists' : 'does not exist yet'}`, hint: 'mailroom creates it on the first move' });
    }
  } catch (err) {
    const k = classifyError(err, ctx.secrets);
    print(ctx, { step: 'folder', status: 'fail', detail: `${i.folder}: ${k.message}`, hint: hintFor(k.class === 'other' ? 'config' : k.class) });
  } finally {
    await client.logout().catch(() => client.close());
  }
}

/** graph/gmail: the token, then the mailbox and folder through the API (test-mailbox-graph.ts). */
async function apiInbound(ctx: Ctx, id: string, mb: ResolvedMailbox, i: ResolvedInbound): Promise<void> {
  ctx.lines.push(`  inbound: ${i.protocol} ${i.apiUrl ?? '(no API URL)'}, folder ${i.folder}`);
  const token = await apiToken(ctx, id, mb.auth);
  if (!token) return;
  if (i.protocol === 'gmail') return probeGmailInbound({ mailbox: id, apiUrl: i.apiUrl!, auth: mb.auth!, accessToken: token, print: (r) => print(ctx, r) }, i);
  await probeGraphInbound({ mailbox: id, apiUrl: i.apiUrl!, auth: mb.auth!, accessToken: token, print: (r) => print(ctx, r) }, i);
}

/** An API mailbox's access token (OAuth2 only), or null after printing why not. */
async function apiToken(ctx: Ctx, id: string, auth: ResolvedAuth | null): Promise<string | null> {
  if (!auth?.oauth2) {
    print(ctx, { step: 'auth', status: 'fail', detail: 'no auth.oauth2', hint: 'the Graph and Gmail APIs take OAuth2 bearer tokens only' });
    return null;
  }
  const c = await creds(ctx, id, auth);
  if (!('user' in c)) {
    print(ctx, c);
    return null;
  }
  return 'accessToken' in c ? c.accessToken : null;
}

/** transport graph/gmail: the token, and with --send-to a test message through sendMail / messages.send. */
async function apiOutbound(ctx: Ctx, id: string, o: ResolvedOutbound, sendTo: string | undefined): Promise<void> {
  ctx.lines.push(`  outbound: ${o.transport} ${o.apiUrl ?? '(no API URL)'}, from ${o.from.name ? `${o.from.name} ` : ''}<${o.from.address || '?'}>`);
  const token = await apiToken(ctx, id, o.auth);
  if (!token) return void (sendTo && print(ctx, { step: 'send', status: 'skip', detail: 'not tried' }));
  print(ctx, { step: 'auth', status: 'ok', detail: `token obtained for ${o.auth!.user}${sendTo ? '' : ` (the right to send is checked only by sending: --send-to)`}` });
  if (!sendTo) return;
  if (!isValidEmail(sendTo)) return print(ctx, { step: 'send', status: 'fail', detail: `--send-to ${JSON.stringify(sendTo)} is not an e-mail address`, hint: 'give a real address' });
  const m = await compose({
    server: o,
    kind: 'system',
    to: [{ name: '', address: sendTo }],
    subject: `mailroom test message from mailbox ${id}`,
    text: `This is a test message sent by \`mailroom test-mailbox\` through mailbox ${id} (${o.transport === 'gmail' ? 'Gmail API' : 'Microsoft Graph'}).\nNo action is needed.\n`,
    headers: { 'Auto-Submitted': 'auto-generated' },
  });
  const probe = { mailbox: id, apiUrl: o.apiUrl!, auth: o.auth!, accessToken: token, print: (r: StepResult) => print(ctx, r) };
  if (o.transport === 'gmail') await probeGmailSend(probe, Buffer.from(m.raw), sendTo);
  else await probeGraphSend(probe, Buffer.from(m.raw), sendTo);
}

async function outbound(ctx: Ctx, id: string, address: string | null, o: ResolvedOutbound, sendTo: string | undefined): Promise<void> {
  if (o.transport !== 'smtp') return apiOutbound(ctx, id, o, sendTo);
  ctx.lines.push(`  outbound: smtp ${o.host}:${o.port} ${o.security}, from ${o.from.name ? `${o.from.name} ` : ''}<${o.from.address || address || '?'}>`);
  const timeoutMs = Math.min(effectiveTimeout(o.timeoutMs), PROBE_TIMEOUT_MS);
  const e: Endpoint = { protocol: 'smtp', host: o.host, port: o.port, security: o.security, verifyCertificate: o.verifyCertificate, caFile: o.caFile, timeoutMs };
  const skipSend = () => void (sendTo && print(ctx, { step: 'send', status: 'skip', detail: 'not tried' }));
  if (!(await network(ctx, e))) {
    print(ctx, { step: 'auth', status: 'skip', detail: 'not tried (the connection failed)' });
    return skipSend();
  }
  const c = o.auth ? await creds(ctx, id, o.auth) : null;
  if (c && !('user' in c)) {
    print(ctx, c);
    return skipSend();
  }
  let options: Omit<Awaited<ReturnType<typeof smtpOptions>>, 'auth'> & { auth?: object };
  try {
    // The credentials were read above (an OAuth2 token included): the transport gets them as they are.
    const smtpAuth = c && ('pass' in c ? { user: c.user, pass: c.pass } : { type: 'OAuth2' as const, user: c.user, accessToken: c.accessToken });
    options = { ...(await smtpOptions({ ...o, auth: null, timeoutMs }, id)), ...(smtpAuth && { auth: smtpAuth }), connectionTimeout: timeoutMs, greetingTimeout: timeoutMs, socketTimeout: timeoutMs };
  } catch (err) {
    print(ctx, { step: 'auth', status: 'fail', detail: (err as Error).message });
    return skipSend();
  }
  const transport = nodemailer.createTransport(options as Parameters<typeof nodemailer.createTransport>[0]);
  try {
    await transport.verify();
    print(ctx, { step: 'auth', status: 'ok', detail: o.auth ? `authenticated as ${o.auth.user}${o.auth.oauth2 ? ' (XOAUTH2)' : ''}` : 'no credentials configured; the server let us in' });
  } catch (err) {
    const k = classifySendError(err, ctx.secrets);
    print(ctx, { step: 'auth', status: 'fail', detail: k.message, hint: sendHint(k) });
    if (sendTo) print(ctx, { step: 'send', status: 'skip', detail: 'not tried' });
    return transport.close();
  }
  if (!sendTo) return transport.close();
  try {
    if (!isValidEmail(sendTo)) throw Object.assign(new Error(`--send-to ${JSON.stringify(sendTo)} is not an e-mail address`), { code: 'EUSAGE' });
    const m = await compose({
      server: o,
      kind: 'system',
      to: [{ name: '', address: sendTo }],
      subject: `mailroom test message from mailbox ${id}`,
      text: `This is a test message sent by \`mailroom test-mailbox\` through mailbox ${id} (${o.host}:${o.port}).\nNo action is needed.\n`,
      headers: { 'Auto-Submitted': 'auto-generated' },
    });
    const info = (await transport.sendMail({ envelope: m.envelope, raw: m.raw })) as { response?: string };
    print(ctx, { step: 'send', status: 'ok', detail: `to ${sendTo}: ${String(info.response ?? '')} (Message-ID <${m.messageId}>)` });
  } catch (err) {
    const k = classifySendError(err, ctx.secrets);
    print(ctx, { step: 'send', status: 'fail', detail: k.message, hint: (err as { code?: string }).code === 'EUSAGE' ? 'give a real address' : sendHint(k) });
  } finally {
    transport.close();
  }
}

export async function testMailboxCommand(opts: { config: string; mailbox: string; sendTo?: string; skipEnv: boolean }, out: (s: string) => void): Promise<number> {
  const r = await loadConfig(opts.config, { skipEnv: opts.skipEnv });
  if (!r.snapshot) {
    for (const p of r.problems) out(formatProblem(p));
    return 1;
  }
  const snap = r.snapshot;
  const mb = snap.mailboxes[opts.mailbox];
  // `default` names the global default server (defaults.outbound) unless a mailbox is called that.
  if (!mb && opts.mailbox === 'default' && snap.defaultOutbound) {
    const ctx: Ctx = { peek: peekStore(snap.store), secrets: [], lines: ['global default outbound (defaults.outbound)'], failed: false };
    await outbound(ctx, 'default', null, snap.defaultOutbound, opts.sendTo);
    return finish(ctx, 'the global default outbound', out);
  }
  if (!mb) {
    const known = Object.keys(snap.mailboxes);
    out(`error: mailbox ${opts.mailbox} is not defined in ${opts.config}${known.length ? ` (mailboxes: ${known.join(', ')}${snap.defaultOutbound ? ', or default for defaults.outbound' : ''})` : ''}`);
    return 1;
  }
  const ctx: Ctx = { peek: peekStore(snap.store), secrets: [], lines: [`mailbox ${mb.id}${mb.enabled ? '' : ' (disabled in config)'}${mb.description ? ` — ${mb.description}` : ''}`], failed: false };
  if (!mb.inbound && !mb.outbound) {
    ctx.lines.push('  has neither an inbound nor an outbound side');
    ctx.failed = true;
  }
  if (mb.inbound) await inbound(ctx, mb.id, mb, mb.inbound);
  if (mb.outbound) await outbound(ctx, mb.id, mb.address, mb.outbound, opts.sendTo);
  else if (opts.sendTo) {
    ctx.lines.push('  --send-to: this mailbox has no outbound side');
    ctx.failed = true;
  }
  return finish(ctx, `mailbox ${mb.id}`, out);
}

/** The verdict line, then every line with every secret read scrubbed. */
function finish(ctx: Ctx, what: string, out: (s: string) => void): number {
  ctx.lines.push(ctx.failed ? `result: FAILED — ${what} needs attention (see FAIL above)` : `result: ok — ${what} works from here`);
  for (const line of ctx.lines) out(scrubSecrets(line, ctx.secrets));
  return ctx.failed ? 1 : 0;
}
