// Deterministic generator of realistic support mail for benchmarks (bench/ingest.ts) and anything else
// that needs a large, reproducible mailbox. Every message is a pure function of (seed, index): the
// same seed always yields byte-identical messages, and messages can be produced lazily in chunks (the
// whole 130 MB never has to sit in memory at once).
//
// The mix resembles what a Brazilian service desk receives:
//   - a Received chain (2–4 hops), DKIM-Signature / ARC-like / Authentication-Results lines;
//   - ~45% multipart/alternative (text/plain + text/html, the html quoted-printable or base64);
//   - ~35% text/plain UTF-8 8bit, ~15% text/plain ISO-8859-1 quoted-printable (Portuguese accents);
//   - Portuguese and English text, RFC 2047 encoded subjects and display names;
//   - ~25% replies (In-Reply-To, References, "Re: [ACME-000123]" subject naming a recent ticket,
//     quoted history), which mailroom threads onto that ticket as a new article;
//   - 5% multipart/mixed with one 20–200 KB base64 attachment (incompressible bytes, like PDF/JPEG).
// With the defaults (10,000 messages) the total is ~130 MB.

export const DEFAULT_SEED = 0x6d61696c; // 'mail'
export const DEFAULT_COUNT = 10_000;

/** sfc32: small, fast, good-quality 32-bit PRNG. */
function sfc32(a: number, b: number, c: number, d: number): () => number {
  return () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

/** splitmix32 to derive independent per-message streams from (seed, index). */
function mix(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

class Rng {
  readonly next: () => number;
  constructor(seed: number, index: number) {
    const s = mix(seed ^ mix(index));
    this.next = sfc32(s, mix(s + 1), mix(s + 2), mix(index + 0x51ed27));
    for (let i = 0; i < 12; i++) this.next();
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  alnum(n: number): string {
    const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    let s = '';
    for (let i = 0; i < n; i++) s += A[Math.floor(this.next() * A.length)];
    return s;
  }
  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[Math.floor(this.next() * 16)];
    return s;
  }
  b64chars(n: number): string {
    const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    let s = '';
    for (let i = 0; i < n; i++) s += A[Math.floor(this.next() * 64)];
    return s;
  }
  bytes(n: number): Buffer {
    const words = new Uint32Array(Math.ceil(n / 4));
    for (let i = 0; i < words.length; i++) words[i] = (this.next() * 4294967296) >>> 0;
    return Buffer.from(words.buffer, 0, n);
  }
}

// ------------------------------------------------------------------------------------ vocabulary

const PT_FIRST = ['João', 'Maria', 'José', 'Ana', 'Antônio', 'Francisca', 'Carlos', 'Luíza', 'Paulo', 'Márcia', 'Sérgio', 'Fábio', 'Conceição', 'Raimundo', 'Bárbara', 'Vinícius', 'Letícia', 'André', 'Cláudia', 'Flávio'];
const PT_LAST = ['Silva', 'Santos', 'Oliveira', 'Souza', 'Araújo', 'Gonçalves', 'Lima', 'Conceição', 'Magalhães', 'Assunção', 'Pereira', 'Guimarães', 'Brandão', 'Simões', 'Antunes'];
const EN_FIRST = ['John', 'Emily', 'Michael', 'Sarah', 'David', 'Laura', 'James', 'Olivia', 'Robert', 'Grace'];
const EN_LAST = ['Smith', 'Johnson', 'Brown', 'Taylor', 'Miller', 'Wilson', 'Clark', 'Walker', 'Hall', 'Young'];
const DOMAINS = ['cliente.com.br', 'padaria-sao-joao.com.br', 'transportesrapidos.com.br', 'hospitalsantaclara.org.br', 'prefeitura.sp.gov.br',
  'gmail.com', 'hotmail.com', 'outlook.com', 'uol.com.br', 'bol.com.br', 'terra.com.br', 'globex.example', 'initech.example', 'contoso.com'];
const MTAS = ['mail-sor-f41.google.com', 'mail-ej1-f54.google.com', 'BN8NAM12FT045.mail.protection.outlook.com', 'smtp.uol.com.br',
  'mx.terra.com.br', 'out.mailgun.example', 'relay.hostgator.com.br', 'smtp-out.locaweb.com.br'];
const MAILERS = ['Microsoft Outlook 16.0', 'Apple Mail (2.3774.500.171.1.1)', 'Mozilla Thunderbird 115.10.1', 'Roundcube Webmail/1.6.6', 'Zimbra 9.0.0_GA_4546'];

const PT_SUBJECTS = ['Não consigo acessar o sistema', 'Solicitação de acesso à VPN', 'Erro na emissão de nota fiscal', 'Impressora da recepção não funciona',
  'Atualização do cadastro de fornecedor', 'Boleto vencido – segunda via', 'Relatório mensal não foi gerado', 'Senha expirada no portal',
  'Lentidão na conexão da filial', 'Pedido de orçamento para manutenção', 'Configuração do e-mail no celular', 'Backup não concluído ontem à noite',
  'Dúvida sobre a fatura de março', 'Troca de equipamento – notebook com defeito', 'Liberação de usuário no ERP'];
const EN_SUBJECTS = ['Cannot log in to the portal', 'Invoice #{n} question', 'Printer offline on 3rd floor', 'Request: new user account',
  'VPN disconnects every few minutes', 'Password reset needed', 'Monthly report missing data', 'Laptop replacement request', 'Email sync issue on mobile'];

const PT_SENTENCES = [
  'Bom dia, estou com um problema desde ontem e preciso de ajuda com urgência.',
  'Quando tento acessar o sistema aparece a mensagem "usuário ou senha inválidos", mas a senha está correta.',
  'Já reiniciei o computador duas vezes e o erro continua acontecendo.',
  'A impressora da recepção mostra a luz vermelha piscando e não imprime nenhum documento.',
  'Preciso da segunda via do boleto com vencimento atualizado, pois o anterior expirou.',
  'O relatório de vendas do mês passado não foi enviado automaticamente como de costume.',
  'Poderiam verificar se houve alguma alteração na configuração do servidor?',
  'Nossa filial de Ribeirão Preto está sem conexão com a internet desde as 8h.',
  'Segue em anexo o comprovante de pagamento referente à fatura de março.',
  'Gostaria de solicitar a criação de um novo usuário para a colaboradora que começa segunda-feira.',
  'A lentidão é maior no período da tarde, principalmente entre 14h e 16h.',
  'Não sei se isso é relevante, mas a atualização do Windows foi instalada na sexta-feira.',
  'Por favor, me informem o prazo previsto para a solução.',
  'Agradeço a atenção e fico no aguardo de um retorno.',
  'O técnico esteve aqui ontem, porém o problema voltou a ocorrer hoje pela manhã.',
  'Estamos impossibilitados de emitir notas fiscais, o que está parando o faturamento.',
  'Conforme conversamos por telefone, envio as informações solicitadas abaixo.',
  'Ação necessária: confirmar a liberação do acesso até sexta-feira.',
];
const EN_SENTENCES = [
  'Hi team, I have been unable to log in since this morning.',
  'The error message says the session has expired, even right after I sign in.',
  'I already cleared the browser cache and tried a different computer.',
  'Could you please reset my password and let me know once it is done?',
  'The printer on the third floor shows a paper jam but there is no paper stuck.',
  'Attached you will find the screenshot of the error and the log file.',
  'This is blocking our month-end closing, so any help is much appreciated.',
  'Please note that the issue only happens when connected through the VPN.',
  'Let me know if you need any further information from my side.',
  'Thanks in advance for your help.',
  'We noticed the nightly backup job reported a warning again.',
  'Our accounting team needs the monthly report by Friday.',
];
const PT_SIGN = ['Atenciosamente,', 'Obrigado,', 'Abraços,', 'Att.,', 'Cordialmente,'];
const EN_SIGN = ['Best regards,', 'Thanks,', 'Kind regards,', 'Cheers,'];
const ATTACH = [
  { name: 'comprovante-pagamento.pdf', type: 'application/pdf' },
  { name: 'nota_fiscal_março.pdf', type: 'application/pdf' },
  { name: 'captura de tela.png', type: 'image/png' },
  { name: 'IMG_20240514_091203.jpg', type: 'image/jpeg' },
  { name: 'relatório-vendas.xlsx', type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' },
  { name: 'error-log.zip', type: 'application/zip' },
  { name: 'invoice-2024-05.pdf', type: 'application/pdf' },
];
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

// ------------------------------------------------------------------------------------ encoders

const CRLF = '\r\n';

function rfcDate(ms: number, offsetMin: number): string {
  const d = new Date(ms + offsetMin * 60_000);
  const p2 = (n: number) => String(n).padStart(2, '0');
  const sign = offsetMin < 0 ? '-' : '+';
  const off = Math.abs(offsetMin);
  return `${WEEKDAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} ${sign}${p2(Math.floor(off / 60))}${p2(off % 60)}`;
}

// eslint-disable-next-line no-control-regex
const nonAscii = (s: string) => /[^\x20-\x7e]/.test(s);

/** RFC 2047 encoded-word (B or Q) when needed. */
function encodeWord(s: string, rng: Rng, charset: 'UTF-8' | 'ISO-8859-1' = 'UTF-8'): string {
  if (!nonAscii(s)) return s;
  const bytes = Buffer.from(s, charset === 'UTF-8' ? 'utf8' : 'latin1');
  if (rng.chance(0.5)) return `=?${charset}?B?${bytes.toString('base64')}?=`;
  let q = '';
  for (const b of bytes) {
    if (b === 0x20) q += '_';
    else if ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)) q += String.fromCharCode(b);
    else q += `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return `=?${charset}?Q?${q}?=`;
}

/** Quoted-printable of bytes (CRLF line breaks kept as hard breaks), soft breaks at 76. */
export function quotedPrintable(bytes: Uint8Array): string {
  const HEX = '0123456789ABCDEF';
  const out = Buffer.allocUnsafe(bytes.length * 3 + Math.ceil(bytes.length / 25) * 3 + 8);
  let o = 0;
  let col = 0;
  const room = (n: number) => {
    if (col + n > 75) {
      out[o++] = 0x3d; out[o++] = 0x0d; out[o++] = 0x0a; // soft break "=\r\n"
      col = 0;
    }
  };
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x0d && bytes[i + 1] === 0x0a) {
      if (col > 0 && out[o - 1] === 0x20) { // trailing space before a hard break must be encoded
        o--; col--;
        room(3);
        out[o++] = 0x3d; out[o++] = 0x32; out[o++] = 0x30;
      }
      out[o++] = 0x0d; out[o++] = 0x0a;
      col = 0;
      i++;
    } else if ((b >= 33 && b <= 126 && b !== 61) || b === 32) {
      room(1);
      out[o++] = b;
      col++;
    } else {
      room(3);
      out[o++] = 0x3d; out[o++] = HEX.charCodeAt(b >> 4); out[o++] = HEX.charCodeAt(b & 15);
      col += 3;
    }
  }
  return out.toString('latin1', 0, o);
}

function base64Lines(bytes: Uint8Array): string {
  const b64 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  const out: string[] = [];
  for (let i = 0; i < b64.length; i += 76) out.push(b64.slice(i, i + 76));
  return out.join(CRLF);
}

function fold(name: string, value: string): string {
  // fold long unstructured values at spaces (or hard-split tokens like signatures) at ~76 columns
  const out: string[] = [];
  let line = `${name}: `;
  for (const word of value.split(' ')) {
    if (line.length + word.length + 1 > 76 && line.trim().length > name.length + 1) {
      out.push(line.trimEnd());
      line = '\t';
    }
    if (word.length > 70) {
      for (let i = 0; i < word.length; i += 70) {
        if (line.trim()) { out.push(line); line = '\t'; }
        line += word.slice(i, i + 70);
      }
      line += ' ';
    } else line += word + ' ';
  }
  out.push(line.trimEnd());
  return out.join(CRLF);
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

// ------------------------------------------------------------------------------------ messages

interface Person { name: string; address: string }

function person(rng: Rng, pt: boolean): Person {
  const first = pt ? rng.pick(PT_FIRST) : rng.pick(EN_FIRST);
  const last = pt ? rng.pick(PT_LAST) : rng.pick(EN_LAST);
  const local = `${first}.${last}`.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
  return { name: `${first} ${last}`, address: `${local}${rng.chance(0.3) ? rng.int(1, 99) : ''}@${rng.pick(DOMAINS)}` };
}

function paragraphs(rng: Rng, pt: boolean, bytes: number): string[] {
  const pool = pt ? PT_SENTENCES : EN_SENTENCES;
  const out: string[] = [];
  let len = 0;
  while (len < bytes) {
    const n = rng.int(2, 5);
    const p = Array.from({ length: n }, () => rng.pick(pool)).join(' ');
    out.push(p);
    len += p.length + 2;
  }
  return out;
}

/** Wrap a paragraph at ~72 columns (like a mail client's format=flowed-less plain text). */
function wrap(p: string, width = 72): string[] {
  const lines: string[] = [];
  let line = '';
  for (const w of p.split(' ')) {
    if (line && line.length + w.length + 1 > width) { lines.push(line); line = w; } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines;
}

function htmlOf(paras: string[], rng: Rng): string {
  const style = rng.pick([
    'font-family:Calibri,Arial,Helvetica,sans-serif;font-size:11pt;color:rgb(0,0,0)',
    'font-family:Aptos,Aptos_EmbeddedFont,Aptos_MSFontService,Calibri,Helvetica,sans-serif;font-size:12pt',
    'font-family:arial,sans-serif',
  ]);
  const body = paras.map((p) => `<div class="elementToProof" style="${style}">${escapeHtml(p)}</div>\r\n<div style="${style}"><br></div>`).join('\r\n');
  return `<html><head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\r\n` +
    `<style type="text/css" style="display:none;"> P {margin-top:0;margin-bottom:0;} </style>\r\n</head>\r\n` +
    `<body dir="ltr">\r\n${body}\r\n<div id="Signature"><p style="${style}">--<br>${escapeHtml(paras[0]!.slice(0, 40))}</p></div>\r\n</body></html>`;
}

export interface GeneratedMessage {
  raw: Buffer;
  kind: 'plain-utf8' | 'plain-latin1-qp' | 'alternative' | 'attachment';
  reply: boolean;
}

/**
 * How far back replies reach: a reply's [ACME-000123] tag names one of the last `replyWindow` tickets
 * (about 75% of messages open a ticket, so ticket ~0.75×index is the newest). Support mail mostly
 * answers recent tickets; Infinity spreads replies uniformly over the whole history (the worst case
 * for a store that keeps only recent segments in memory).
 */
export const DEFAULT_REPLY_WINDOW = 400;

/** One message: a pure function of (seed, index, replyWindow). */
export function generateMessage(index: number, seed = DEFAULT_SEED, replyWindow = DEFAULT_REPLY_WINDOW): GeneratedMessage {
  const rng = new Rng(seed, index);
  const pt = rng.chance(0.7);
  const from = person(rng, pt);
  const base = Date.UTC(2024, 4, 1) + index * 97_000 + rng.int(0, 60_000);
  const tz = pt ? -180 : rng.pick([0, -240, 60]);
  const date = rfcDate(base, tz);
  const reply = rng.chance(0.25);
  const r = rng.next();
  const kind: GeneratedMessage['kind'] = r < 0.05 ? 'attachment' : r < 0.5 ? 'alternative' : r < 0.85 ? 'plain-utf8' : 'plain-latin1-qp';
  const newest = Math.floor(index * 0.75);
  const back = Number.isFinite(replyWindow) ? rng.int(1, Math.max(1, replyWindow)) : rng.int(1, Math.max(1, newest));
  const ticketNo = String(Math.max(1, newest - back + 1)).padStart(6, '0');
  let subject = pt ? rng.pick(PT_SUBJECTS) : rng.pick(EN_SUBJECTS).replace('{n}', String(rng.int(1000, 99999)));
  if (reply) subject = `${pt ? rng.pick(['RES: ', 'Re: ']) : 'Re: '}[ACME-${ticketNo}] ${subject}`;
  const msgId = `<${rng.alnum(24)}.${index}@${from.address.split('@')[1]}>`;

  // ---- header block
  const h: string[] = [];
  h.push(`Return-Path: <${from.address}>`);
  h.push('Delivered-To: suporte@acme.example');
  const hops = rng.int(2, 4);
  let t = base + hops * 900;
  const mta = rng.pick(MTAS);
  for (let k = 0; k < hops; k++) {
    t -= rng.int(200, 900);
    const id = rng.alnum(12);
    const stamp = rfcDate(t, -180);
    const mx = `mx${rng.int(1, 4)}.acme.example`;
    if (k === 0) h.push(fold('Received', `from ${mx} (${mx} [10.0.${rng.int(0, 9)}.${rng.int(2, 250)}]) by imap.acme.example (Postfix) with ESMTPS id ${id} for <suporte@acme.example>; ${stamp}`));
    else if (k === hops - 1) h.push(fold('Received', `by ${mta} with SMTP id ${rng.alnum(6)}-${rng.alnum(10)}.${rng.int(10, 99)} for <suporte@acme.example>; ${stamp}`));
    else h.push(fold('Received', `from ${mta} (${mta} [${rng.int(20, 210)}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}]) (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256) (No client certificate requested) by mx${rng.int(1, 4)}.acme.example (Postfix) with ESMTPS id ${id} for <suporte@acme.example>; ${stamp}`));
  }
  const domain = from.address.split('@')[1]!;
  h.push(fold('Authentication-Results', `mx1.acme.example; dkim=pass (2048-bit key; unprotected) header.d=${domain} header.i=@${domain} header.a=rsa-sha256 header.s=selector${rng.int(1, 2)} header.b=${rng.b64chars(8)}; spf=pass (sender SPF authorized) smtp.mailfrom=${from.address}; dmarc=pass (p=quarantine dis=none) header.from=${domain}`));
  if (rng.chance(0.4)) {
    h.push(fold('ARC-Seal', `i=1; a=rsa-sha256; t=${Math.floor(base / 1000)}; cv=none; d=${domain}; s=arc-20160816; b=${rng.b64chars(340)}==`));
  }
  h.push(fold('DKIM-Signature', `v=1; a=rsa-sha256; c=relaxed/relaxed; d=${domain}; s=selector${rng.int(1, 2)}; t=${Math.floor(base / 1000)}; x=${Math.floor(base / 1000) + 604800}; h=from:to:subject:date:message-id:mime-version:content-type:in-reply-to:references; bh=${rng.b64chars(43)}=; b=${rng.b64chars(342)}==`));
  if (rng.chance(0.5)) h.push(`X-Google-Smtp-Source: AGHT+I${rng.b64chars(80)}`);
  h.push(`X-Received: by 2002:a17:906:${rng.hex(4)}:b0:a59:${rng.hex(3)} with SMTP id ${rng.alnum(10)}; ${date}`);
  h.push(`From: ${nonAscii(from.name) ? encodeWord(from.name, rng) : `"${from.name}"`} <${from.address}>`);
  h.push('To: Suporte ACME <suporte@acme.example>');
  if (rng.chance(0.2)) {
    const cc = person(rng, pt);
    h.push(`Cc: ${encodeWord(cc.name, rng)} <${cc.address}>`);
  }
  const latin1 = kind === 'plain-latin1-qp';
  h.push(fold('Subject', encodeWord(subject, rng, latin1 && rng.chance(0.5) ? 'ISO-8859-1' : 'UTF-8')));
  h.push(`Date: ${date}`);
  h.push(`Message-ID: ${msgId}`);
  if (reply) {
    const parent = `<ticket-${ticketNo}.${rng.alnum(8)}@acme.example>`;
    h.push(`In-Reply-To: ${parent}`);
    h.push(fold('References', `<${rng.alnum(20)}@${domain}> ${parent}`));
    h.push(`Thread-Topic: ${encodeWord(subject.replace(/^(RES|Re): \[[^\]]+\] /, ''), rng)}`);
  }
  h.push(`${rng.chance(0.5) ? 'X-Mailer' : 'User-Agent'}: ${rng.pick(MAILERS)}`);
  if (rng.chance(0.3)) h.push(`Content-Language: ${pt ? 'pt-BR' : 'en-US'}`);
  h.push('MIME-Version: 1.0');

  // ---- body text
  const paras = paragraphs(rng, pt, rng.int(200, kind === 'plain-utf8' || kind === 'plain-latin1-qp' ? 2600 : 1300));
  const sign = [pt ? rng.pick(PT_SIGN) : rng.pick(EN_SIGN), from.name];
  const textLines = [...paras.flatMap((p) => [...wrap(p), '']), ...sign];
  if (reply) {
    const quoted = paragraphs(rng, pt, rng.int(300, 1500));
    textLines.push('', pt ? `Em ${date}, Suporte ACME <suporte@acme.example> escreveu:` : `On ${date}, ACME Support <suporte@acme.example> wrote:`);
    for (const p of quoted) for (const l of [...wrap(p, 70), '']) textLines.push(`> ${l}`.trimEnd());
  }
  const text = textLines.join(CRLF) + CRLF;

  const boundary = (tag: string) => `----=_Part_${rng.int(100000, 999999)}_${rng.int(1000000, 9999999)}.${tag}${rng.hex(8)}`;
  const altPart = (b: string): string => {
    const plainQp = rng.chance(0.5);
    const html = htmlOf(paras, rng);
    const htmlB64 = rng.chance(0.3);
    return [
      `--${b}`,
      'Content-Type: text/plain; charset="utf-8"',
      `Content-Transfer-Encoding: ${plainQp ? 'quoted-printable' : '8bit'}`,
      '',
      plainQp ? quotedPrintable(Buffer.from(text, 'utf8')) : text,
      `--${b}`,
      'Content-Type: text/html; charset="utf-8"',
      `Content-Transfer-Encoding: ${htmlB64 ? 'base64' : 'quoted-printable'}`,
      '',
      htmlB64 ? base64Lines(Buffer.from(html, 'utf8')) : quotedPrintable(Buffer.from(html, 'utf8')),
      `--${b}--`,
      '',
    ].join(CRLF);
  };

  let head: string;
  let body: Buffer;
  if (kind === 'plain-utf8') {
    head = [...h, 'Content-Type: text/plain; charset=utf-8; format=flowed', 'Content-Transfer-Encoding: 8bit'].join(CRLF);
    body = Buffer.from(text, 'utf8');
  } else if (kind === 'plain-latin1-qp') {
    head = [...h, 'Content-Type: text/plain; charset="iso-8859-1"', 'Content-Transfer-Encoding: quoted-printable'].join(CRLF);
    body = Buffer.from(quotedPrintable(Buffer.from(text, 'latin1')) + CRLF, 'latin1');
  } else if (kind === 'alternative') {
    const b = boundary('alt');
    head = [...h, `Content-Type: multipart/alternative; boundary="${b}"`].join(CRLF);
    body = Buffer.from(`This is a multi-part message in MIME format.${CRLF}${CRLF}${altPart(b)}`, 'utf8');
  } else {
    const outer = boundary('mix');
    const inner = boundary('alt');
    const att = rng.pick(ATTACH);
    const content = rng.bytes(rng.int(20_000, 200_000));
    const encName = nonAscii(att.name) ? `filename*=utf-8''${encodeURIComponent(att.name)}` : `filename="${att.name}"`;
    head = [...h, `Content-Type: multipart/mixed; boundary="${outer}"`].join(CRLF);
    body = Buffer.from([
      `--${outer}`,
      `Content-Type: multipart/alternative; boundary="${inner}"`,
      '',
      altPart(inner),
      `--${outer}`,
      `Content-Type: ${att.type}; name="${encodeWord(att.name, rng)}"`,
      `Content-Disposition: attachment; ${encName}`,
      'Content-Transfer-Encoding: base64',
      '',
      base64Lines(content),
      `--${outer}--`,
      '',
    ].join(CRLF), 'utf8');
  }
  return { raw: Buffer.concat([Buffer.from(head + CRLF + CRLF, 'utf8'), body]), kind, reply };
}

export interface GenerateOptions {
  count?: number;
  seed?: number;
  /** see DEFAULT_REPLY_WINDOW */
  replyWindow?: number;
  /** first index (for chunked generation) */
  start?: number;
}

/** Messages [start, start+count) of the stream for `seed`, as raw buffers. */
export function generateMail(opts: GenerateOptions = {}): Buffer[] {
  const { count = DEFAULT_COUNT, seed = DEFAULT_SEED, start = 0, replyWindow = DEFAULT_REPLY_WINDOW } = opts;
  return Array.from({ length: count }, (_, i) => generateMessage(start + i, seed, replyWindow).raw);
}

/** Lazily yields chunks of at most `chunk` messages (bounded memory for huge mailboxes). */
export function* generateMailChunks(opts: GenerateOptions & { chunk?: number } = {}): Generator<Buffer[]> {
  const { count = DEFAULT_COUNT, start = 0, chunk = 500, ...rest } = opts;
  for (let i = 0; i < count; i += chunk) yield generateMail({ ...rest, start: start + i, count: Math.min(chunk, count - i) });
}
