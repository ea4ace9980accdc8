// `mailroom test-mailbox --config <path> <mailbox> [--send-to <address>]`: the "test connection"
// button of the admin screens mailroom replaces. Checks, step by step, DNS, TCP, TLS (and the
// certificate), authentication and, for the inbound side, the folder; for the outbound side it can
// send a test message. Prints a diagnosis a person can act on; exits 1 when a step fails. Secrets
// are never printed: server messages are redacted and every secret read is scrubbed from the output.
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { loadConfig } from '../config/load.js';
import { formatProblem } from '../config/problems.js';
import type { ResolvedInbound, ResolvedMailbox, ResolvedOutbound } from '../config/snapshot.js';
import { credentialsFor, tlsOptionsFor, type Credentials } from '../inbound/credentials.js';
import { classifyError, hintFor, redactMessage } from '../inbound/errors.js';
import { Pop3Client } from '../inbound/pop3-client.js';
import { isValidEmail } from '../outbound/address.js';
import { compose } from '../outbound/compose.js';
import { classifySendError, sendHint } from '../outbound/errors.js';
import { probeDns, probeTcp, probeTls, type Endpoint, type StepResult } from '../outbound/probe.js';
import { effectiveTimeout } from '../outbound/resolve.js';
import { smtpOptions } from '../outbound/transport-pool.js';

/** An interactive check should not hang for the 180 s a sender may wait. */
const PROBE_TIMEOUT_MS = 20_000;

interface Ctx {
  secrets: string[];
  lines: string[];
  failed: boolean;
}

function print(ctx: Ctx, r: StepResult): void {
  const tag = { ok: 'ok  ', warn: 'warn', fail: 'FAIL', skip: 'skip' }[r.status];
  ctx.lines.push(`    ${tag}  ${r.step.padEnd(7)} ${redactMessage(r.detail)}`);
  if (r.hint && r.status !== 'ok') ctx.lines.push(`                  → ${r.hint}`);
  if (r.status === 'fail') ctx.failed = true;
}

async function creds(ctx: Ctx, id: string, mb: ResolvedMailbox, auth: ResolvedOutbound['auth']): Promise<Credentials | StepResult> {
  try {
    const c = await credentialsFor(id, auth ?? mb.auth);
    ctx.secrets.push('pass' in c ? c.pass : c.accessToken);
    return c;
  } catch (e) {
    return { step: 'auth', status: 'fail', detail: (e as Error).message, hint: 'the password file or OAuth2 setup of the mailbox is not usable from here' };
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
  ctx.lines.push(`  inbound: ${i.protocol} ${i.host}:${i.port} ${i.security}, folder ${i.folder}`);
  const e: Endpoint = { protocol: i.protocol, host: i.host, port: i.port, security: i.security, verifyCertificate: i.verifyCertificate, caFile: i.caFile, timeoutMs: PROBE_TIMEOUT_MS };
  if (!(await network(ctx, e))) return print(ctx, { step: 'auth', status: 'skip', detail: 'not tried (the connection failed)' });
  const c = await creds(ctx, id, mb, mb.auth);
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
      const k = classifyError(err);
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
    const k = classifyError(err);
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
    const k = classifyError(err);
    print(ctx, { step: 'folder', status: 'fail', detail: `${i.folder}: ${k.message}`, hint: hintFor(k.class === 'other' ? 'config' : k.class) });
  } finally {
    await client.logout().catch(() => client.close());
  }
}

async function outbound(ctx: Ctx, id: string, mb: ResolvedMailbox, o: ResolvedOutbound, sendTo: string | undefined): Promise<void> {
  ctx.lines.push(`  outbound: smtp ${o.host}:${o.port} ${o.security}, from ${o.from.name ? `${o.from.name} ` : ''}<${o.from.address || mb.address || '?'}>`);
  const timeoutMs = Math.min(effectiveTimeout(o.timeoutMs), PROBE_TIMEOUT_MS);
  const e: Endpoint = { protocol: 'smtp', host: o.host, port: o.port, security: o.security, verifyCertificate: o.verifyCertificate, caFile: o.caFile, timeoutMs };
  if (!(await network(ctx, e))) {
    print(ctx, { step: 'auth', status: 'skip', detail: 'not tried (the connection failed)' });
    return void (sendTo && print(ctx, { step: 'send', status: 'skip', detail: 'not tried' }));
  }
  if (o.auth) {
    const c = await creds(ctx, id, mb, o.auth);
    if (!('user' in c)) return print(ctx, c);
  }
  let options: Awaited<ReturnType<typeof smtpOptions>>;
  try {
    options = { ...(await smtpOptions({ ...o, timeoutMs }, id)), connectionTimeout: timeoutMs, greetingTimeout: timeoutMs, socketTimeout: timeoutMs };
  } catch (err) {
    return print(ctx, { step: 'auth', status: 'fail', detail: (err as Error).message });
  }
  const transport = nodemailer.createTransport(options);
  try {
    await transport.verify();
    print(ctx, { step: 'auth', status: 'ok', detail: o.auth ? `authenticated as ${o.auth.user}` : 'no credentials configured; the server let us in' });
  } catch (err) {
    const k = classifySendError(err);
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
    const k = classifySendError(err);
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
  const mb = r.snapshot.mailboxes[opts.mailbox];
  if (!mb) {
    const known = Object.keys(r.snapshot.mailboxes);
    out(`error: mailbox ${opts.mailbox} is not defined in ${opts.config}${known.length ? ` (mailboxes: ${known.join(', ')})` : ''}`);
    return 1;
  }
  const ctx: Ctx = { secrets: [], lines: [`mailbox ${mb.id}${mb.enabled ? '' : ' (disabled in config)'}${mb.description ? ` — ${mb.description}` : ''}`], failed: false };
  if (!mb.inbound && !mb.outbound) {
    ctx.lines.push('  has neither an inbound nor an outbound side');
    ctx.failed = true;
  }
  if (mb.inbound) await inbound(ctx, mb.id, mb, mb.inbound);
  if (mb.outbound) await outbound(ctx, mb.id, mb, mb.outbound, opts.sendTo);
  else if (opts.sendTo) {
    ctx.lines.push('  --send-to: this mailbox has no outbound side');
    ctx.failed = true;
  }
  ctx.lines.push(ctx.failed ? `result: FAILED — mailbox ${mb.id} needs attention (see FAIL above)` : `result: ok — mailbox ${mb.id} works from here`);
  const secrets = ctx.secrets.filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  for (const line of ctx.lines) out(secrets.reduce((l, s) => l.split(s).join('<redacted>'), line));
  return ctx.failed ? 1 : 0;
}
