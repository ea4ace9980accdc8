// `npm run sandbox`: watch mailroom turn mail into tickets on your machine, with nothing to set up.
//
// It starts a throw-away Dovecot (test/peers/dovecot.ts: IMAP/IMAPS/POP3/POP3S, a private CA),
// seeds two mailboxes with a dozen realistic messages (Portuguese and English, one with a PDF
// attachment, one reply, one auto-reply), renders config/sandbox/mailroom.yaml.tmpl into
// .sandbox/config/mailroom.yaml with the Dovecot's ports, CA file and password files filled in,
// and runs the daemon in this process with its normal info logs on stdout. While it runs it
// appends a new message every 10 s and prints each ticket as it becomes durable. Ctrl-C stops the
// daemon and Dovecot cleanly; the store stays in .sandbox/data for you to look at (it is wiped
// at the next start).
//
//   npm run sandbox                         # Ctrl-C to stop
//   npx tsx scripts/sandbox.ts append my.eml # append a message of your own to the running sandbox
//
// `main()` is exported for test/integration/sandbox.test.ts.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ImapFlow } from 'imapflow';
import { Daemon } from '../src/daemon/daemon.js';
import type { Logger } from '../src/observability/logger.js';
import { startDovecot, type Dovecot } from '../test/peers/dovecot.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const TEMPLATE = path.join(ROOT, 'config/sandbox/mailroom.yaml.tmpl');

export interface SandboxOptions {
  /** Working directory for config, secrets and store. Default <repo>/.sandbox (gitignored). */
  dir?: string;
  /** Append a new message every this many ms; 0 = never. Default 10 000. */
  appendEveryMs?: number;
  /** host:port of the daemon's HTTP server. Default 127.0.0.1:9466, or a free port if taken. */
  listen?: string;
  /** Logger for the daemon (default: the daemon's own, info level, JSON lines on stdout). */
  logger?: Logger;
  /** Where the sandbox's own human-readable lines go. Default console.log. */
  print?: (line: string) => void;
}

export interface Sandbox {
  daemon: Daemon;
  dovecot: Dovecot;
  dir: string;
  configFile: string;
  storePath: string;
  /** base URL of the daemon's HTTP server, e.g. http://127.0.0.1:9466 */
  url: string;
  apiToken: string;
  /** Messages appended so far (seed + periodic). */
  appended: number;
  /** Append one more message (the periodic appender uses this too). */
  appendNext(): Promise<void>;
  /** Stop appending, stop the daemon, stop and delete Dovecot. Idempotent. */
  stop(): Promise<void>;
}

interface SeedMessage {
  user: 'suporte' | 'financeiro';
  raw: string;
}

const USERS = ['suporte', 'financeiro'] as const;

// ------------------------------------------------------------------------------------ mail

function rfc2822(d: Date): string {
  return d.toUTCString().replace('GMT', '+0000');
}

function b64(s: string | Buffer): string {
  return (Buffer.isBuffer(s) ? s : Buffer.from(s, 'utf8')).toString('base64').replace(/.{76}/g, '$&\r\n');
}

function encodedWord(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /[^\x20-\x7e]/.test(s) ? `=?UTF-8?B?${Buffer.from(s, 'utf8').toString('base64')}?=` : s;
}

interface Mail {
  from: string;
  fromName: string;
  to: string;
  subject: string;
  text: string;
  html?: string;
  messageId: string;
  date: Date;
  extraHeaders?: string[];
  attachment?: { filename: string; contentType: string; content: Buffer };
}

function build(m: Mail): string {
  const head = [
    `Received: from mx.cliente.example (mx.cliente.example [203.0.113.7]) by mail.demo.example (Postfix) with ESMTPS id ${m.messageId.slice(0, 8).toUpperCase()}; ${rfc2822(m.date)}`,
    `From: ${encodedWord(m.fromName)} <${m.from}>`,
    `To: ${m.to}`,
    `Subject: ${encodedWord(m.subject)}`,
    `Date: ${rfc2822(m.date)}`,
    `Message-ID: <${m.messageId}>`,
    ...(m.extraHeaders ?? []),
    'MIME-Version: 1.0',
  ];
  const text = m.text.replace(/\r?\n/g, '\r\n');
  const textPart = ['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '', text];
  let body: string[];
  if (!m.html && !m.attachment) body = textPart;
  else {
    const alt = `alt-${m.messageId.slice(0, 10)}`;
    const altPart = m.html
      ? [`Content-Type: multipart/alternative; boundary="${alt}"`, '', `--${alt}`, ...textPart, `--${alt}`,
        'Content-Type: text/html; charset=utf-8', 'Content-Transfer-Encoding: base64', '', b64(m.html), `--${alt}--`]
      : textPart;
    if (!m.attachment) body = altPart;
    else {
      const mix = `mix-${m.messageId.slice(0, 10)}`;
      body = [`Content-Type: multipart/mixed; boundary="${mix}"`, '', `--${mix}`, ...altPart, `--${mix}`,
        `Content-Type: ${m.attachment.contentType}; name="${m.attachment.filename}"`,
        `Content-Disposition: attachment; filename="${m.attachment.filename}"`,
        'Content-Transfer-Encoding: base64', '', b64(m.attachment.content), `--${mix}--`];
    }
  }
  // The first body line is either the part header (single part) or the multipart Content-Type.
  if (body === textPart) return [...head, ...textPart.slice(0, 2), '', text, ''].join('\r\n');
  return [...head, body[0], '', ...body.slice(2), ''].join('\r\n');
}

/** A tiny but valid one-page PDF ("Nota fiscal 4711"). */
function samplePdf(): Buffer {
  const objs = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 144] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    null,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  const stream = 'BT /F1 18 Tf 24 72 Td (Nota fiscal 4711 - R$ 1.250,00) Tj ET';
  objs[3] = `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`;
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objs.forEach((o, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  out += `trailer\n<< /Size ${objs.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

function seedMail(now = new Date()): SeedMessage[] {
  const at = (minAgo: number) => new Date(now.getTime() - minAgo * 60_000);
  const run = randomBytes(3).toString('hex');
  const id = (s: string) => `${s}.${run}@cliente.example`;
  const suporte = 'Suporte Demo <suporte@demo.example>';
  const financeiro = 'Financeiro Demo <financeiro@demo.example>';
  const mails: [SeedMessage['user'], Mail][] = [
    ['suporte', { from: 'maria.souza@cliente.example', fromName: 'Maria Souza', to: suporte, subject: 'Não consigo acessar o sistema', messageId: id('acesso-1'), date: at(55),
      text: 'Bom dia,\n\ndesde ontem à tarde não consigo acessar o sistema: aparece "usuário ou senha inválidos",\nmas a senha está correta. Já reiniciei o computador duas vezes.\n\nAtenciosamente,\nMaria Souza\nCliente Exemplo Ltda' }],
    ['suporte', { from: 'john.miller@globex.example', fromName: 'John Miller', to: suporte, subject: 'Printer on the 3rd floor is offline', messageId: id('printer'), date: at(50),
      text: 'Hi team,\n\nthe printer on the 3rd floor shows "offline" since this morning. Could someone take a look?\n\nThanks,\nJohn' }],
    ['suporte', { from: 'carlos.lima@cliente.example', fromName: 'Carlos Lima', to: suporte, subject: 'Solicitação de acesso à VPN', messageId: id('vpn'), date: at(45),
      text: 'Olá,\n\npreciso de acesso à VPN para trabalhar de casa a partir de segunda-feira.\n\nObrigado,\nCarlos',
      html: '<html><body><p>Olá,</p><p>preciso de acesso à <b>VPN</b> para trabalhar de casa a partir de <i>segunda-feira</i>.</p><p>Obrigado,<br>Carlos</p></body></html>' }],
    ['suporte', { from: 'ana.araujo@cliente.example', fromName: 'Ana Araújo', to: suporte, subject: 'Erro ao emitir nota fiscal', messageId: id('nf'), date: at(40),
      text: 'Boa tarde,\n\nao emitir a nota fiscal 4711 o sistema mostra "erro 504". Segue em anexo a nota gerada\nem PDF, com o valor errado.\n\nAna Araújo\nFaturamento',
      attachment: { filename: 'nota-fiscal-4711.pdf', contentType: 'application/pdf', content: samplePdf() } }],
    ['suporte', { from: 'emily.clark@initech.example', fromName: 'Emily Clark', to: suporte, subject: 'Password reset needed', messageId: id('pwd'), date: at(35),
      text: 'Hello,\n\nmy password expired while I was on vacation. Could you reset it, please?\n\nBest regards,\nEmily Clark' }],
    ['suporte', { from: 'joao.goncalves@filial.example', fromName: 'João Gonçalves', to: suporte, subject: 'Lentidão na conexão da filial Ribeirão Preto', messageId: id('lento'), date: at(30),
      text: 'Pessoal,\n\na conexão da filial de Ribeirão Preto está muito lenta desde as 8h; o ERP demora\nmais de um minuto para abrir cada tela.\n\nAbraços,\nJoão' }],
    ['suporte', { from: 'maria.souza@cliente.example', fromName: 'Maria Souza', to: suporte, subject: 'Re: Não consigo acessar o sistema', messageId: id('acesso-2'), date: at(25),
      extraHeaders: [`In-Reply-To: <${id('acesso-1')}>`, `References: <${id('acesso-1')}>`],
      text: 'Complementando: o erro acontece só no navegador Edge; no Firefox funciona.\n\nMaria\n\n> desde ontem à tarde não consigo acessar o sistema' }],
    ['suporte', { from: 'robert.hall@globex.example', fromName: 'Robert Hall', to: suporte, subject: 'Request: new user account for Ana Lima', messageId: id('newuser'), date: at(20),
      text: 'Hi,\n\nplease create an account for Ana Lima (ana.lima@globex.example), who starts on Monday in Accounting.\n\nRobert' }],
    ['suporte', { from: 'paulo.brandao@cliente.example', fromName: 'Paulo Brandão', to: suporte, subject: 'Resposta automática: Ausente até 30/11', messageId: id('ooo'), date: at(15),
      extraHeaders: ['Auto-Submitted: auto-replied', 'X-Autoreply: yes'],
      text: 'Estou ausente até 30/11, com acesso limitado ao e-mail. Em caso de urgência, ligue para a recepção.' }],
    ['financeiro', { from: 'contas@fornecedor.example', fromName: 'Fornecedor Exemplo', to: financeiro, subject: 'Segunda via do boleto – vencimento 05/12', messageId: id('boleto'), date: at(12),
      text: 'Prezados,\n\nsolicitamos a segunda via do boleto referente à fatura de novembro, com vencimento\natualizado para 05/12.\n\nCordialmente,\nDepartamento Financeiro' }],
    ['financeiro', { from: 'billing@contoso.example', fromName: 'Contoso Billing', to: financeiro, subject: 'Invoice #4411 – question about VAT', messageId: id('invoice'), date: at(8),
      text: 'Dear team,\n\ninvoice #4411 lists VAT at 18%, but our contract says 12%. Could you check?\n\nKind regards,\nContoso Billing' }],
    ['financeiro', { from: 'cadastro@fornecedor.example', fromName: 'Cláudia Simões', to: financeiro, subject: 'Atualização do cadastro de fornecedor', messageId: id('cadastro'), date: at(4),
      text: 'Olá,\n\nmudamos de endereço; seguem os novos dados para atualização do cadastro:\nRua das Flores, 123 – São Paulo/SP – CEP 01000-000.\n\nObrigada,\nCláudia' }],
  ];
  return mails.map(([user, m]) => ({ user, raw: build(m) }));
}

const LIVE = [
  { fromName: 'Fernanda Oliveira', from: 'fernanda@cliente.example', subject: 'Impressora da recepção sem toner', text: 'Oi, a impressora da recepção está sem toner. Podem trocar hoje?\n\nFernanda' },
  { fromName: 'David Young', from: 'david.young@globex.example', subject: 'Outlook keeps asking for my password', text: 'Hi, since the update Outlook asks for my password every few minutes.\n\nDavid' },
  { fromName: 'Sérgio Antunes', from: 'sergio@filial.example', subject: 'Boleto em aberto – fatura de outubro', text: 'Bom dia, consta um boleto em aberto da fatura de outubro; já foi pago em 10/11.\n\nSérgio' },
  { fromName: 'Letícia Magalhães', from: 'leticia@cliente.example', subject: 'Novo notebook para a equipe comercial', text: 'Olá, precisamos de um notebook para a nova vendedora, que começa na segunda.\n\nLetícia' },
  { fromName: 'Grace Walker', from: 'grace@initech.example', subject: 'VPN disconnects every few minutes', text: 'Hello, my VPN connection drops every 5 minutes when working from home.\n\nGrace' },
];

function liveMail(n: number): { raw: string; subject: string } {
  const t = LIVE[n % LIVE.length]!;
  const subject = `${t.subject} (#${n + 1})`;
  const raw = build({ ...t, to: 'Suporte Demo <suporte@demo.example>', subject, date: new Date(), messageId: `live-${n + 1}.${randomBytes(4).toString('hex')}@cliente.example` });
  return { raw, subject };
}

// ------------------------------------------------------------------------------------ config

export function renderTemplate(template: string, values: Record<string, string | number>): string {
  const out = template.replace(/@([A-Z0-9_]+)@/g, (m, name: string) => {
    if (!(name in values)) throw new Error(`sandbox template: no value for ${m}`);
    return String(values[name]);
  });
  return out;
}

async function pickListen(preferred: string | undefined): Promise<string> {
  if (preferred) return preferred;
  const free = await new Promise<boolean>((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host: '127.0.0.1', port: 9466, exclusive: true }, () => srv.close(() => resolve(true)));
  });
  return free ? '127.0.0.1:9466' : '127.0.0.1:0';
}

// ------------------------------------------------------------------------------------ main

export async function main(opts: SandboxOptions = {}): Promise<Sandbox> {
  const print = opts.print ?? ((line: string) => console.log(line));
  const dir = path.resolve(opts.dir ?? path.join(ROOT, '.sandbox'));
  const configDir = path.join(dir, 'config');
  const secretsDir = path.join(dir, 'secrets');
  const storePath = path.join(dir, 'data');
  // A sandbox starts fresh: the previous run's store and config go (Dovecot is new every time).
  await rm(configDir, { recursive: true, force: true });
  await rm(storePath, { recursive: true, force: true });
  await mkdir(configDir, { recursive: true });
  await mkdir(secretsDir, { recursive: true, mode: 0o700 });

  const users = USERS.map((user) => ({ user, password: `${user}-${randomBytes(6).toString('hex')}` }));
  const dovecot = await startDovecot({ users });
  let daemon: Daemon | null = null;
  try {
    const passwordFile = (u: string) => path.join(secretsDir, `${u}.password`);
    for (const u of users) await writeFile(passwordFile(u.user), `${u.password}\n`, { mode: 0o600 });
    const apiToken = randomBytes(18).toString('base64url');
    const apiTokenFile = path.join(secretsDir, 'api-token');
    await writeFile(apiTokenFile, `${apiToken}\n`, { mode: 0o600 });

    const seed = seedMail();
    for (const u of USERS) await dovecot.appendMany(u, seed.filter((m) => m.user === u).map((m) => m.raw));

    const configFile = path.join(configDir, 'mailroom.yaml');
    const rendered = renderTemplate(await readFile(TEMPLATE, 'utf8'), {
      LISTEN: await pickListen(opts.listen),
      API_TOKEN_FILE: apiTokenFile,
      STORE_PATH: storePath,
      HOST: dovecot.host,
      IMAPS_PORT: dovecot.ports.imaps,
      POP3_PORT: dovecot.ports.pop3,
      CA_FILE: dovecot.caFile,
      SUPORTE_PASSWORD_FILE: passwordFile('suporte'),
      FINANCEIRO_PASSWORD_FILE: passwordFile('financeiro'),
    });
    await writeFile(configFile, `# Rendered by scripts/sandbox.ts from config/sandbox/mailroom.yaml.tmpl: do not edit.\n${rendered}`);
    // For `sandbox.ts append` (holds the throw-away passwords, like secrets/).
    await writeFile(path.join(dir, 'state.json'), JSON.stringify({ host: dovecot.host, ports: dovecot.ports, caFile: dovecot.caFile, users, pid: process.pid }, null, 2), { mode: 0o600 });

    daemon = new Daemon({ configPath: configDir, ...(opts.logger && { logger: opts.logger }) });
    await daemon.start();
    const addr = daemon.http.address();
    const url = `http://${addr?.host ?? '127.0.0.1'}:${addr?.port ?? 0}`;

    let stopped: Promise<void> | null = null;
    let appendTimer: NodeJS.Timeout | null = null;
    let watchTimer: NodeJS.Timeout | null = null;
    const d = daemon;
    const sandbox: Sandbox = {
      daemon: d,
      dovecot,
      dir,
      configFile,
      storePath,
      url,
      apiToken,
      appended: seed.length,
      async appendNext() {
        const { raw, subject } = liveMail(sandbox.appended - seed.length);
        await dovecot.append('suporte', raw);
        sandbox.appended++;
        print(`sandbox: appended "${subject}" to suporte's INBOX (IDLE: a ticket within about a second)`);
      },
      stop() {
        stopped ??= (async () => {
          if (appendTimer) clearInterval(appendTimer);
          if (watchTimer) clearInterval(watchTimer);
          await d.stop();
          await dovecot.destroy();
          print(`sandbox: stopped. The store stays in ${path.relative(process.cwd(), storePath) || storePath} until the next start.`);
        })();
        return stopped;
      },
    };

    // Print each ticket (and each article added to one) once it is durable.
    const seen = new Map<string, number>();
    let watching = false;
    const watch = async () => {
      const store = d.stores?.tickets;
      if (!store || watching) return;
      watching = true;
      try {
        const page = await store.list({ companies: '*', limit: 1000, order: 'asc' });
        for (const t of page.items) {
          const before = seen.get(t.id);
          if (before === t.articleCount) continue;
          seen.set(t.id, t.articleCount);
          if (before !== undefined) {
            print(`ticket ${t.id}: article ${t.articleCount} added (a reply threaded onto it)`);
            continue;
          }
          const flags = (await store.get(t.id))?.articles[0]?.flags ?? [];
          const labels = [t.type, t.group, t.priority, t.status !== 'open' ? t.status : null, ...t.tags, ...flags].filter(Boolean).join(', ');
          const more = t.articleCount > 1 ? ` + ${t.articleCount - 1} reply threaded onto it` : '';
          print(`ticket ${t.id}: "${t.subject}" from ${t.from?.address ?? '?'} [${labels}]${more}`);
        }
      } catch {
        /* the store is closing */
      } finally {
        watching = false;
      }
    };
    watchTimer = setInterval(() => void watch(), 500);
    watchTimer.unref();

    const rel = (p: string) => path.relative(process.cwd(), p) || p;
    const auth = `-H "Authorization: Bearer $(cat ${rel(apiTokenFile)})"`;
    print([
      '',
      'mailroom sandbox is running',
      `  config     ${rel(configFile)}   (rendered from ${path.relative(process.cwd(), TEMPLATE)})`,
      `  store      ${rel(storePath)}    (tickets in segments/*.json, raw mail and attachments in blobs/)`,
      `  health     ${url}/-/healthy   ${url}/-/ready   ${url}/metrics`,
      `  status     curl -s ${auth} ${url}/v1/status`,
      `  tickets    curl -s ${auth} ${url}/v1/tickets`,
      `  mailboxes  Dovecot on ${dovecot.host}: IMAP ${dovecot.ports.imap}, IMAPS ${dovecot.ports.imaps}, POP3 ${dovecot.ports.pop3}, POP3S ${dovecot.ports.pop3s}; users suporte, financeiro (passwords in ${rel(secretsDir)}/)`,
      `  add mail   every ${Math.round((opts.appendEveryMs ?? 10_000) / 1000)} s automatically; your own: npx tsx scripts/sandbox.ts append my.eml [suporte|financeiro]`,
      `             or: curl -s --url imap://${dovecot.host}:${dovecot.ports.imap}/INBOX --user "suporte:$(cat ${rel(passwordFile('suporte'))})" -T my.eml`,
      '  stop       Ctrl-C',
      '',
    ].join('\n'));

    const every = opts.appendEveryMs ?? 10_000;
    if (every > 0) {
      appendTimer = setInterval(() => {
        sandbox.appendNext().catch((e: unknown) => print(`sandbox: append failed: ${(e as Error).message}`));
      }, every);
      appendTimer.unref();
    }
    return sandbox;
  } catch (e) {
    await daemon?.stop().catch(() => {});
    await dovecot.destroy().catch(() => {});
    throw e;
  }
}

/** `append <file.eml> [user]`: append a message to the running sandbox's Dovecot. */
async function appendFile(file: string | undefined, user = 'suporte'): Promise<void> {
  if (!file) throw new Error('usage: npx tsx scripts/sandbox.ts append <file.eml> [suporte|financeiro]');
  const state = JSON.parse(await readFile(path.join(ROOT, '.sandbox/state.json'), 'utf8')) as {
    host: string; ports: { imap: number }; users: { user: string; password: string }[];
  };
  const u = state.users.find((x) => x.user === user);
  if (!u) throw new Error(`no sandbox user ${user} (have: ${state.users.map((x) => x.user).join(', ')})`);
  const client = new ImapFlow({ host: state.host, port: state.ports.imap, secure: false, doSTARTTLS: false, auth: { user: u.user, pass: u.password }, logger: false });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.append('INBOX', await readFile(file));
  } finally {
    await client.logout().catch(() => client.close());
  }
  console.log(`appended ${file} to ${user}'s INBOX`);
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const [cmd, ...args] = process.argv.slice(2);
  if (cmd === 'append') {
    await appendFile(args[0], args[1]).catch((e: unknown) => {
      console.error(`sandbox append: ${(e as Error).message} (is \`npm run sandbox\` running?)`);
      process.exitCode = 1;
    });
  } else {
    const sandbox = await main();
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      if (++signals > 1) {
        console.log(`sandbox: ${sig} again, exiting now`);
        process.exit(130);
      }
      console.log(`\nsandbox: ${sig}, stopping (again to force)`);
      sandbox.stop().then(() => process.exit(0), (e: unknown) => {
        console.error(e);
        process.exit(1);
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
}
