// Why this exists: mailroom's IMAP/POP3 pollers must be tested against a REAL server, not a
// mock. This starts a private Dovecot (the Debian dovecot-imapd/dovecot-pop3d binaries) per test
// file from a generated config in a fresh temp dir, on free loopback ports, with TLS from a
// private CA, and gives tests helpers to seed and inspect mailboxes, count logins, stop/restart
// the server on the same ports, and clean up. Every path, socket and port is per instance, so
// parallel vitest workers can each run their own Dovecot.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { ImapFlow } from 'imapflow';
import { makeCertificates, makeSelfSignedCertificate } from './certs.js';
import { freePort } from './free-port.js';

const execFileP = promisify(execFile);

export const DOVECOT_BIN = process.env.MAILROOM_TEST_DOVECOT ?? '/usr/sbin/dovecot';

export interface DovecotUser {
  user: string;
  password: string;
}

export interface DovecotPorts {
  /** IMAP, STARTTLS offered, plaintext LOGIN allowed without TLS. */
  imap: number;
  /** IMAP over implicit TLS. */
  imaps: number;
  /** POP3, STLS offered, plaintext USER/PASS allowed without TLS. */
  pop3: number;
  /** POP3 over implicit TLS. */
  pop3s: number;
}

export interface AppendOptions {
  /** Mailbox name, `/` is the hierarchy separator. Default INBOX. Created when missing. */
  folder?: string;
  /** IMAP flags, e.g. ['\\Seen']. */
  flags?: string[];
  /** INTERNALDATE. */
  date?: Date;
}

export interface ListedMessage {
  uid: number;
  flags: string[];
  size: number;
  subject?: string;
  messageId?: string;
}

export interface Dovecot {
  /** Always '127.0.0.1' (the certificate also covers DNS name `localhost`). */
  host: string;
  ports: DovecotPorts;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** The per-instance temp dir (config, log, certs, mail). */
  dir: string;
  /** Path of the Dovecot log (info and errors). */
  logFile: string;
  users: DovecotUser[];
  /** IMAP APPEND with imapflow, creating the folder when missing. */
  append(user: string, raw: Buffer | string, opts?: AppendOptions): Promise<void>;
  /**
   * Bulk append over one raw IMAP connection: MULTIAPPEND with LITERAL+ (non-synchronizing
   * literals), batches of 500 messages per APPEND command. UIDs are assigned in array order.
   */
  appendMany(user: string, raws: (Buffer | string)[], opts?: { folder?: string }): Promise<void>;
  /** Messages of a folder (default INBOX) in UID order; [] when the folder does not exist. */
  list(user: string, folder?: string): Promise<ListedMessage[]>;
  /** All mailbox paths of the user (INBOX first). */
  folders(user: string): Promise<string[]>;
  /** Exact bytes of a message (as IMAP serves them: CRLF line ends). */
  fetchRaw(user: string, folder: string, uid: number): Promise<Buffer>;
  /**
   * Successful IMAP+POP3 logins in the log, optionally for one user, across restarts. The
   * helpers above (append, list, ...) log in on a private listener and are NOT counted.
   */
  logins(user?: string): Promise<number>;
  /** The same logins with their times (ms since the epoch, from the log's microsecond timestamps), in log order. */
  loginTimes(user?: string): Promise<{ user: string; at: number }[]>;
  /** Disconnect every IMAP/POP3 session (of one user, or all) at once, as a server restart would (doveadm kick). */
  kick(user?: string): Promise<void>;
  /** Is the Dovecot master process running? */
  readonly running: boolean;
  /** Graceful stop (SIGTERM, clients are disconnected). Data and port numbers are kept. */
  stop(): Promise<void>;
  /** Start again on the same ports with the same mail (no-op wait if already running). */
  restart(): Promise<void>;
  /** Stop and delete the temp dir. */
  destroy(): Promise<void>;
}

export interface StartDovecotOptions {
  /** Default: alice, bob, carol, dave with password `secret-<name>`. */
  users?: DovecotUser[];
  /** How long to wait for all ports to accept connections. Default 10 s. */
  startTimeoutMs?: number;
  /**
   * Also accept XOAUTH2 and OAUTHBEARER (IMAP and POP3) through Dovecot's oauth2 passdb, which
   * validates each token by RFC 7662 introspection (POST token=...) at `introspectionUrl`; the
   * response's `username` must be the login user. Password logins keep working as before.
   * `mechanisms` defaults to both (Gmail offers both; Microsoft 365 only XOAUTH2).
   */
  oauth2?: { introspectionUrl: string; mechanisms?: ('xoauth2' | 'oauthbearer')[] };
  /** Present a self-signed certificate for this name instead of the private CA's for localhost. */
  selfSignedFor?: string;
  /**
   * Clients served by one imap process (`service imap { client_limit }`). Many users of one uid
   * need it above 1: each imap process takes an inotify instance and the kernel allows 128 per uid
   * (fs.inotify.max_user_instances), past which IDLE falls back to polling every 30 s.
   */
  imapClientLimit?: number;
}

export const DEFAULT_USERS: readonly DovecotUser[] = Object.freeze(
  ['alice', 'bob', 'carol', 'dave'].map((u) => Object.freeze({ user: u, password: `secret-${u}` })),
);

const HELPER_BATCH = 500;

// Dovecot masters still running in this process, stopped if the process exits without destroy().
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGTERM');
      } catch {
        // already gone
      }
    }
  });
}

interface Account {
  name: string;
  uid: number;
  gid: number;
  /** Primary group name, only needed when not root (default_internal_group). */
  group?: string;
}

async function lookupAccount(name: string): Promise<Account> {
  try {
    const [u, g] = await Promise.all([execFileP('id', ['-u', name]), execFileP('id', ['-g', name])]);
    return { name, uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
  } catch {
    throw new Error(
      `startDovecot: system user "${name}" not found. Install Dovecot ` +
        `(apt-get install -y dovecot-imapd dovecot-pop3d), which creates users dovecot and dovenull.`,
    );
  }
}

/** Accounts Dovecot runs as: as root the Debian system users, otherwise the current user. */
async function accounts(): Promise<{ root: boolean; login: Account; internal: Account; mail: Account }> {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root) {
    const [login, internal] = await Promise.all([lookupAccount('dovenull'), lookupAccount('dovecot')]);
    return { root, login, internal, mail: internal };
  }
  const me = userInfo();
  const group = (await execFileP('id', ['-gn'])).stdout.trim();
  const self: Account = { name: me.username, uid: me.uid, gid: me.gid, group };
  return { root, login: self, internal: self, mail: self };
}

function checkConfValue(what: string, value: string): string {
  if (!/^[A-Za-z0-9._/@+=-]+$/.test(value)) {
    throw new Error(`startDovecot: ${what} ${JSON.stringify(value)} has characters unsafe in a dovecot.conf`);
  }
  return value;
}

function checkUser(u: DovecotUser): void {
  if (!/^[A-Za-z0-9._@+-]+$/.test(u.user)) throw new Error(`startDovecot: bad user name ${JSON.stringify(u.user)}`);
  if (/[:\r\n]/.test(u.password)) throw new Error(`startDovecot: password of ${u.user} must not contain ':' or newlines`);
}

interface ConfInput {
  dir: string;
  ports: DovecotPorts & { helper: number };
  certFile: string;
  keyFile: string;
  passwdFile: string;
  root: boolean;
  login: Account;
  internal: Account;
  mail: Account;
  /** Path of the oauth2 passdb settings file and the SASL mechanisms offered, when OAuth2 is on. */
  oauth2File?: string;
  oauth2Mechanisms?: string;
  /** `service imap { client_limit }` (Dovecot's default is 1: one imap process per connection). */
  imapClientLimit?: number;
}

function renderConf(c: ConfInput): string {
  const d = checkConfValue('temp dir', c.dir);
  const noChroot = c.root ? '' : '  chroot =\n';
  const firstUid = Math.min(c.mail.uid, 500);
  const firstGid = Math.min(c.mail.gid, 500);
  return `# Generated by test/peers/dovecot.ts for one test run. Everything lives under ${d}.
base_dir = ${d}/run
state_dir = ${d}/state
instance_name = ${d.split('/').pop() ?? 'mailroom-dovecot'}
log_path = ${d}/dovecot.log
info_log_path = ${d}/dovecot.log
debug_log_path = ${d}/dovecot.log
log_timestamp = "%Y-%m-%d %H:%M:%S.%{usecs} "
protocols = imap pop3
listen = 127.0.0.1
shutdown_clients = yes
version_ignore = yes

ssl = yes
ssl_cert = <${checkConfValue('cert file', c.certFile)}
ssl_key = <${checkConfValue('key file', c.keyFile)}
ssl_min_protocol = TLSv1.2

disable_plaintext_auth = no
auth_mechanisms = plain login${c.oauth2File ? ` ${c.oauth2Mechanisms ?? 'xoauth2 oauthbearer'}` : ''}
auth_verbose = yes
auth_failure_delay = 0
auth_cache_size = 0
login_log_format_elements = user=<%u> method=%m rip=%r lip=%l lport=%{lport} mpid=%e %c session=<%{session}>

default_login_user = ${c.login.name}
default_internal_user = ${c.internal.name}
${c.root ? '' : `default_internal_group = ${c.internal.group ?? ''}\n`}first_valid_uid = ${firstUid}
first_valid_gid = ${firstGid}
mail_location = maildir:~/Maildir
mail_fsync = never
mail_max_userip_connections = 1000
mailbox_idle_check_interval = 1 secs
imap_idle_notify_interval = 1 secs
pop3_uidl_format = %08Xu%08Xv

passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${c.passwdFile}
}
${c.oauth2File ? `passdb {\n  driver = oauth2\n  mechanisms = ${c.oauth2Mechanisms ?? 'xoauth2 oauthbearer'}\n  args = ${checkConfValue('oauth2 file', c.oauth2File)}\n}\n` : ''}userdb {
  driver = passwd-file
  args = username_format=%u ${c.passwdFile}
}

namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \\Drafts
  }
  mailbox Junk {
    special_use = \\Junk
  }
  mailbox Sent {
    special_use = \\Sent
  }
  mailbox Trash {
    special_use = \\Trash
  }
  mailbox Archive {
    special_use = \\Archive
  }
}

service imap-login {
${noChroot}  inet_listener imap {
    address = 127.0.0.1
    port = ${c.ports.imap}
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = ${c.ports.imaps}
    ssl = yes
  }
  # private listener for the test helpers (append/list/...), excluded from logins()
  inet_listener imap_helper {
    address = 127.0.0.1
    port = ${c.ports.helper}
  }
}
${c.imapClientLimit ? `service imap {\n  client_limit = ${Math.floor(c.imapClientLimit)}\n  process_limit = 1024\n}\n` : ''}service pop3-login {
${noChroot}  inet_listener pop3 {
    address = 127.0.0.1
    port = ${c.ports.pop3}
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = ${c.ports.pop3s}
    ssl = yes
  }
}
service anvil {
${noChroot}  # no auth penalty: tests log in with wrong passwords from 127.0.0.1 on purpose, and the
  # penalty would then delay every later login from that IP by up to 15 s
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
`;
}

/** Settings of the oauth2 passdb (see /usr/share/dovecot/dovecot-oauth2.conf.ext). */
function oauth2Conf(introspectionUrl: string): string {
  if (!/^http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9/_-]*$/.test(introspectionUrl)) throw new Error(`startDovecot: introspectionUrl must be a loopback http URL, got ${introspectionUrl}`);
  return `introspection_mode = post
introspection_url = ${introspectionUrl}
force_introspection = yes
username_attribute = username
username_format = %u
active_attribute = active
active_value = true
timeout_msecs = 5000
`;
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.setTimeout(1000, () => {
      s.destroy();
      resolve(false);
    });
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Quote a string for IMAP (quoted string, or error if it cannot be one). */
function imapQuote(s: string): string {
  if (/[\r\n\0]/.test(s)) throw new Error('IMAP string cannot contain CR/LF/NUL');
  return '"' + s.replace(/[\\"]/g, (m) => '\\' + m) + '"';
}

/** Minimal line-based IMAP client over a raw socket, used only for the fast bulk APPEND. */
class RawImap {
  private buf: Buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private closedErr: Error | null = null;
  private seq = 0;
  constructor(private sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.wake();
    });
    const onEnd = (err?: Error) => {
      this.closedErr = err ?? new Error('IMAP connection closed');
      this.wake();
    };
    sock.on('error', onEnd);
    sock.on('close', () => onEnd());
  }
  static async open(host: string, port: number): Promise<RawImap> {
    const sock = netConnect({ host, port });
    sock.setNoDelay(true);
    await once(sock, 'connect');
    const c = new RawImap(sock);
    const greeting = await c.line();
    if (!greeting.startsWith('* OK')) throw new Error('unexpected IMAP greeting: ' + greeting);
    return c;
  }
  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  private async line(): Promise<string> {
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i >= 0) {
        const l = this.buf.subarray(0, i).toString('latin1');
        this.buf = this.buf.subarray(i + 2);
        return l;
      }
      if (this.closedErr) throw this.closedErr;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }
  /** Send a command (parts are written as-is) and wait for its tagged response. */
  async run(parts: (string | Buffer)[]): Promise<{ ok: boolean; text: string }> {
    const tag = 'h' + ++this.seq;
    const chunks = [Buffer.from(tag + ' ', 'latin1'), ...parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)), Buffer.from('\r\n')];
    const data = Buffer.concat(chunks);
    if (!this.sock.write(data)) await once(this.sock, 'drain');
    for (;;) {
      const l = await this.line();
      if (l.startsWith(tag + ' ')) {
        const text = l.slice(tag.length + 1);
        return { ok: text.startsWith('OK'), text };
      }
      // Untagged/continuation lines: none of the commands we send returns literals.
    }
  }
  async close(): Promise<void> {
    try {
      await this.run(['LOGOUT']);
    } catch {
      // ignore
    }
    this.sock.destroy();
  }
}

class DovecotInstance implements Dovecot {
  readonly host = '127.0.0.1';
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly logFile: string;
  private child: ChildProcess | null = null;
  private output = '';
  private destroyed = false;

  constructor(
    readonly dir: string,
    readonly ports: DovecotPorts,
    private readonly helperPort: number,
    readonly users: DovecotUser[],
    certs: { caFile: string; certFile: string; keyFile: string },
    private readonly confFile: string,
    private readonly startTimeoutMs: number,
  ) {
    this.caFile = certs.caFile;
    this.certFile = certs.certFile;
    this.keyFile = certs.keyFile;
    this.logFile = join(dir, 'dovecot.log');
  }

  get running(): boolean {
    return this.child !== null;
  }

  private allPorts(): number[] {
    return [this.ports.imap, this.ports.imaps, this.ports.pop3, this.ports.pop3s, this.helperPort];
  }

  async logTail(lines = 40): Promise<string> {
    try {
      const text = await readFile(this.logFile, 'latin1');
      return text.split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log file)';
    }
  }

  /** Spawn the master and wait until every listener accepts connections. */
  async spawnAndWait(): Promise<void> {
    if (this.destroyed) throw new Error('Dovecot was destroyed');
    if (this.child) return;
    this.output = '';
    const child = spawn(DOVECOT_BIN, ['-F', '-c', this.confFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    live.add(child);
    installExitHook();
    // A forgotten destroy() must neither keep the worker alive nor leak a Dovecot: unref the
    // child, stop it from the 'exit' hook, and, should this process die by a signal (no exit
    // hooks then), a watchdog shell sees EOF on its stdin and sends SIGTERM to the master.
    child.unref();
    for (const s of [child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
    if (child.pid !== undefined) {
      const dog = spawn('sh', ['-c', 'cat >/dev/null; kill -TERM "$0" 2>/dev/null', String(child.pid)], {
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      dog.on('error', () => {});
      dog.unref();
      (dog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
      child.once('exit', () => dog.kill('SIGKILL'));
    }
    let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let spawnError: Error | null = null;
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.once('error', (err) => (spawnError = err));
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      live.delete(child);
      if (this.child === child) this.child = null;
    });
    const deadline = Date.now() + this.startTimeoutMs;
    let pending = this.allPorts();
    while (pending.length > 0) {
      if (spawnError || exited) {
        this.child = null;
        live.delete(child);
        const why = spawnError ? String(spawnError) : `exited with ${JSON.stringify(exited)}`;
        throw new Error(`Dovecot failed to start (${why}).\n--- output ---\n${this.output}\n--- log tail ---\n${await this.logTail()}`);
      }
      if (Date.now() > deadline) {
        await this.killChild();
        throw new Error(
          `Dovecot did not accept connections on ports ${pending.join(', ')} within ${this.startTimeoutMs} ms.\n` +
            `--- output ---\n${this.output}\n--- log tail ---\n${await this.logTail()}`,
        );
      }
      const ok = await Promise.all(pending.map((p) => canConnect(this.host, p)));
      pending = pending.filter((_, i) => !ok[i]);
      if (pending.length > 0) await sleep(25);
    }
  }

  private async killChild(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    this.child = null;
    live.delete(child);
  }

  async kick(user?: string): Promise<void> {
    await execFileP('doveadm', ['-c', this.confFile, 'kick', user ?? '*']).catch((err: { stderr?: string; code?: number }) => {
      // exit code 68: nobody was connected
      if (err.code !== 68) throw new Error(`doveadm kick failed: ${err.stderr ?? String(err)}`);
    });
  }

  async stop(): Promise<void> {
    await this.killChild();
    // Login/child processes inherit the listening sockets; wait until they are really gone so
    // restart() can bind the same ports and tests see "connection refused" while stopped.
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const open = await Promise.all(this.allPorts().map((p) => canConnect(this.host, p)));
      if (!open.some(Boolean)) return;
      await sleep(25);
    }
  }

  async restart(): Promise<void> {
    if (this.child) return;
    let lastErr: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.spawnAndWait();
        return;
      } catch (err) {
        lastErr = err;
        // Most likely a port still held for a moment (or taken by another process): retry.
        await sleep(200);
      }
    }
    throw lastErr;
  }

  async destroy(): Promise<void> {
    await this.stop();
    this.destroyed = true;
    await rm(this.dir, { recursive: true, force: true });
  }

  private password(user: string): string {
    const u = this.users.find((x) => x.user === user);
    if (!u) throw new Error(`unknown Dovecot test user ${user}`);
    return u.password;
  }

  private async withImap<T>(user: string, fn: (c: ImapFlow) => Promise<T>): Promise<T> {
    const client = new ImapFlow({
      host: this.host,
      port: this.helperPort,
      secure: false,
      doSTARTTLS: false,
      auth: { user, pass: this.password(user) },
      logger: false,
      disableAutoEnable: true,
    });
    client.on('error', () => {
      // surfaced through the awaited calls
    });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.logout().catch(() => client.close());
    }
  }

  async append(user: string, raw: Buffer | string, opts: AppendOptions = {}): Promise<void> {
    const folder = opts.folder ?? 'INBOX';
    const content = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
    await this.withImap(user, async (c) => {
      if (folder.toUpperCase() !== 'INBOX') await c.mailboxCreate(folder);
      const res = await c.append(folder, content, opts.flags, opts.date);
      if (!res) throw new Error(`APPEND to ${folder} for ${user} failed`);
    });
  }

  async appendMany(user: string, raws: (Buffer | string)[], opts: { folder?: string } = {}): Promise<void> {
    const folder = opts.folder ?? 'INBOX';
    const c = await RawImap.open(this.host, this.helperPort);
    try {
      const login = await c.run([`LOGIN ${imapQuote(user)} ${imapQuote(this.password(user))}`]);
      if (!login.ok) throw new Error(`appendMany: LOGIN ${user} failed: ${login.text}`);
      if (folder.toUpperCase() !== 'INBOX') {
        const created = await c.run([`CREATE ${imapQuote(folder)}`]);
        if (!created.ok && !/ALREADYEXISTS/i.test(created.text)) throw new Error(`appendMany: CREATE ${folder}: ${created.text}`);
      }
      for (let start = 0; start < raws.length; start += HELPER_BATCH) {
        const parts: (string | Buffer)[] = [`APPEND ${imapQuote(folder)}`];
        for (const raw of raws.slice(start, start + HELPER_BATCH)) {
          const b = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
          parts.push(` {${b.length}+}\r\n`, b);
        }
        const res = await c.run(parts);
        if (!res.ok) throw new Error(`appendMany: APPEND to ${folder} failed: ${res.text}`);
      }
    } finally {
      await c.close();
    }
  }

  async list(user: string, folder = 'INBOX'): Promise<ListedMessage[]> {
    return this.withImap(user, async (c) => {
      let mailbox;
      try {
        mailbox = await c.mailboxOpen(folder, { readOnly: true });
      } catch (err) {
        const e = err as { serverResponseCode?: string; responseText?: string };
        if (e.serverResponseCode === 'NONEXISTENT' || /doesn't exist|does not exist/i.test(e.responseText ?? '')) return [];
        throw err;
      }
      if (mailbox.exists === 0) return [];
      const msgs = await c.fetchAll('1:*', { uid: true, flags: true, size: true, envelope: true });
      return msgs
        .map((m) => {
          const item: ListedMessage = { uid: m.uid, flags: [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort(), size: m.size ?? 0 };
          if (m.envelope?.subject !== undefined) item.subject = m.envelope.subject;
          if (m.envelope?.messageId !== undefined) item.messageId = m.envelope.messageId;
          return item;
        })
        .sort((a, b) => a.uid - b.uid);
    });
  }

  async folders(user: string): Promise<string[]> {
    return this.withImap(user, async (c) => {
      const boxes = await c.list();
      const paths = boxes.map((b) => b.path);
      return [...paths.filter((p) => p.toUpperCase() === 'INBOX'), ...paths.filter((p) => p.toUpperCase() !== 'INBOX').sort()];
    });
  }

  async fetchRaw(user: string, folder: string, uid: number): Promise<Buffer> {
    return this.withImap(user, async (c) => {
      await c.mailboxOpen(folder, { readOnly: true });
      const msg = await c.fetchOne(String(uid), { uid: true, source: true }, { uid: true });
      if (!msg || !msg.source) throw new Error(`no message UID ${uid} in ${folder} of ${user}`);
      return msg.source;
    });
  }

  async logins(user?: string): Promise<number> {
    return (await this.loginTimes(user)).length;
  }

  async loginTimes(user?: string): Promise<{ user: string; at: number }[]> {
    // Login lines travel login process -> log process -> file; wait until the file stops growing
    // (two equal sizes 25 ms apart) so a login that just completed is counted.
    let prev = -1;
    for (let i = 0; i < 20; i++) {
      const size = await stat(this.logFile).then((s) => s.size, () => 0);
      if (size === prev) break;
      prev = size;
      await sleep(25);
    }
    const text = await readFile(this.logFile, 'latin1').catch(() => '');
    const re = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}) (?:imap|pop3)-login: (?:Info: )?Login: user=<([^>]*)>.*?\blport=(\d+)/gm;
    const out: { user: string; at: number }[] = [];
    for (const m of text.matchAll(re)) {
      if (Number(m[3]) === this.helperPort) continue;
      if (user === undefined || m[2] === user) out.push({ user: m[2]!, at: new Date(m[1]!.replace(' ', 'T')).getTime() + (Number(m[1]!.slice(-3)) / 1000) });
    }
    return out;
  }
}

async function prepareDir(users: DovecotUser[], selfSignedFor?: string) {
  const acc = await accounts();
  const dir = await mkdtemp(join(tmpdir(), 'mailroom-dovecot-'));
  // mkdtemp makes it 0700; Dovecot's unprivileged processes must traverse it.
  await chmod(dir, 0o755);
  if (acc.root) {
    for (let p = dirname(dir); p !== dirname(p); p = dirname(p)) {
      if (((await stat(p)).mode & 0o001) === 0) {
        await rm(dir, { recursive: true, force: true });
        throw new Error(`startDovecot: ${p} is not traversable by the dovecot user; set TMPDIR to a world-accessible directory such as /tmp`);
      }
    }
  }
  const certs = selfSignedFor ? await makeSelfSignedCertificate(join(dir, 'tls'), selfSignedFor) : await makeCertificates(join(dir, 'tls'));
  await chmod(join(dir, 'tls'), 0o755);
  const home = join(dir, 'home');
  await mkdir(home, { mode: 0o755 });
  const passwdLines: string[] = [];
  for (const u of users) {
    const h = join(home, u.user);
    await mkdir(h, { mode: 0o700 });
    if (acc.root) await chown(h, acc.mail.uid, acc.mail.gid);
    passwdLines.push(`${u.user}:{PLAIN}${u.password}:${acc.mail.uid}:${acc.mail.gid}::${h}::`);
  }
  const passwdFile = join(dir, 'passwd');
  await writeFile(passwdFile, passwdLines.join('\n') + '\n', { mode: 0o640 });
  if (acc.root) await chown(passwdFile, 0, acc.internal.gid);
  return { acc, dir, certs, passwdFile };
}

/** Start a private Dovecot. Call `destroy()` in afterAll. */
export async function startDovecot(opts: StartDovecotOptions = {}): Promise<Dovecot> {
  const users = (opts.users ?? DEFAULT_USERS).map((u) => ({ ...u }));
  users.forEach(checkUser);
  const { acc, dir, certs, passwdFile } = await prepareDir(users, opts.selfSignedFor);
  const confFile = join(dir, 'dovecot.conf');
  const oauth2File = opts.oauth2 ? join(dir, 'dovecot-oauth2.conf.ext') : undefined;
  if (oauth2File && opts.oauth2) await writeFile(oauth2File, oauth2Conf(opts.oauth2.introspectionUrl), { mode: 0o644 });
  let lastErr: unknown;
  // freePort() closes the port before Dovecot binds it; another process may grab it in between,
  // so on failure pick fresh ports and try again.
  for (let attempt = 0; attempt < 3; attempt++) {
    const [imap, imaps, pop3, pop3s, helper] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const ports = { imap: imap!, imaps: imaps!, pop3: pop3!, pop3s: pop3s!, helper: helper! };
    if (new Set(Object.values(ports)).size !== 5) continue;
    await writeFile(
      confFile,
      renderConf({ dir, ports, certFile: certs.certFile, keyFile: certs.keyFile, passwdFile, ...acc, ...(oauth2File && { oauth2File, oauth2Mechanisms: (opts.oauth2?.mechanisms ?? ['xoauth2', 'oauthbearer']).join(' ') }), ...(opts.imapClientLimit && { imapClientLimit: opts.imapClientLimit }) }),
    );
    const { helper: helperPort, ...publicPorts } = ports;
    const d = new DovecotInstance(dir, publicPorts, helperPort, users, certs, confFile, opts.startTimeoutMs ?? 10_000);
    try {
      await d.spawnAndWait();
      return d;
    } catch (err) {
      lastErr = err;
      if (!/Address already in use/i.test(String(err))) break;
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw lastErr;
}
