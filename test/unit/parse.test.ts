// Unit tests for parseMessage against the real .eml fixtures in test/fixtures/mail (including the
// nasty ones) plus generated pathological input: concrete decoded values, not just "no throw".
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeWords } from '../../src/ingest/headers.js';
import { htmlToText } from '../../src/ingest/html-text.js';
import { parseFallback, parseMessage } from '../../src/ingest/parse.js';
import type { ParsedMessage } from '../../src/ingest/parsed-message.js';

const dir = new URL('../fixtures/mail/', import.meta.url);
const load = (name: string): Buffer => readFileSync(new URL(name, dir));
const parse = async (name: string): Promise<ParsedMessage> => parseMessage(load(name));
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.eml')).sort();
const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('parseMessage: fixtures', () => {
  it('simple plain text', async () => {
    const m = await parse('simple-plain.eml');
    expect(m.subject).toBe('Printer on 3rd floor is offline');
    expect(m.from).toEqual({ name: 'Maria Souza', address: 'maria.souza@clientes.example.com.br' });
    expect(m.to).toEqual([{ name: 'Suporte ACME', address: 'suporte@acme.example' }]);
    expect(m.messageId).toBe('CAF1234abcd@mail.clientes.example.com.br');
    expect(m.date).toBe('2024-05-14T12:11:58.000Z');
    expect(m.text).toContain('has been offline since this morning.');
    expect(m.html).toBeNull();
    expect(m.contentType).toBe('text/plain');
    expect(m.headers['received']?.[0]).toMatch(/^from mx1\.example\.net .*by mail\.acme\.example with ESMTPS/);
    expect(m.headers['return-path']).toEqual(['<maria.souza@clientes.example.com.br>']);
    expect(m.size).toBe(load('simple-plain.eml').length);
    expect(m.problems).toEqual([]);
  });

  it('html only: text derived from html', async () => {
    const m = await parse('html-only.eml');
    expect(m.html).toContain('<h1>Pedido enviado</h1>');
    expect(m.text).toContain('Olá João, your order #48213 has shipped.');
    expect(m.text).not.toContain('<p>');
    expect(m.from).toEqual({ name: 'Loja Exemplo', address: 'news@loja.example' });
  });

  it('multipart/alternative with a PDF attachment', async () => {
    const m = await parse('alternative-with-attachment.eml');
    expect(m.text).toBe('Please find the invoice attached.');
    expect(m.html).toBe('<p>Please find the <b>invoice</b> attached.</p>');
    expect(m.to.map((a) => a.address)).toEqual(['financeiro@acme.example', 'ana@acme.example']);
    expect(m.to[1]?.name).toBe('Ana (Compras)');
    expect(m.cc).toEqual([{ name: 'Joana', address: 'joana@acme.example' }]);
    expect(m.attachments).toHaveLength(1);
    const a = m.attachments[0]!;
    expect(a).toMatchObject({ filename: 'invoice-2024-0087.pdf', contentType: 'application/pdf', size: 353, inline: false });
    expect(Buffer.from(a.content).subarray(0, 8).toString('latin1')).toBe('%PDF-1.4');
    expect(a.id).toBe('9d6486232a93f9d90c5ef82ffc9fa20ab423dcdbafe60cf10898bb858406b8eb');
    expect(createHash('sha256').update(a.content).digest('hex')).toBe(a.id);
    expect(m.problems).toEqual([]);
  });

  it('multipart/related: inline image by Content-ID, windows-1252 html', async () => {
    const m = await parse('html-related-inline-image.eml');
    expect(m.html).toContain('Veja o logotipo – “novo”:');
    expect(m.html).toContain('cid:logo@cliente.example');
    expect(m.text).toContain('Veja o logotipo – “novo”:');
    expect(m.attachments[0]).toMatchObject({ contentId: 'logo@cliente.example', inline: true, contentType: 'image/png', size: 70 });
  });

  it('Latin-1 8-bit body without charset decodes as Windows-1252', async () => {
    const m = await parse('latin1-8bit-no-charset.eml');
    expect(m.text).toContain('Não foi possível acessar o sistema após a atualização.');
    expect(m.text).toContain('“senha inválida” – já tentei três vezes.');
    expect(m.text).not.toContain('\uFFFD');
    expect(m.problems).toContain('charset-fallback:windows-1252');
  });

  it('Latin-1 bytes declared as utf-8 (quoted-printable) fall back to Windows-1252', async () => {
    const m = await parse('latin1-declared-utf8.eml');
    expect(m.text).toContain('o boleto nº 4411 venceu e não consta pagamento.');
    expect(m.text).toContain('Favor verificar a situação.');
    expect(m.problems).toContain('charset-fallback:windows-1252');
  });

  it('unknown charset: UTF-8 if valid, else Windows-1252, noted', async () => {
    const m = await parse('unknown-charset.eml');
    expect(m.text).toContain('Relatório gerado: operação concluída.');
    expect(m.text).toContain('Segunda parte: ação válida em UTF-8.');
    expect(m.text).not.toContain('\uFFFD');
    expect(m.problems).toContain('unknown-charset:x-mailroom-unknown');
  });

  it('RFC 2047 ISO-8859-1 subject and names', async () => {
    const m = await parse('rfc2047-iso-8859-1.eml');
    expect(m.subject).toBe('Solicitação de acesso');
    expect(m.headers['subject']).toEqual(['Solicitação de acesso']);
    expect(m.from).toEqual({ name: 'João Araújo', address: 'joao.araujo@cliente.example' });
    expect(m.to[0]?.name).toBe('Suporte Técnico');
    expect(m.text).toContain('Não foi possível encontrar a opção no menu.');
  });

  it('RFC 2047 UTF-8 subject folded over two encoded words', async () => {
    const m = await parse('rfc2047-utf8.eml');
    expect(m.subject).toBe('Não consegui concluir a operação');
    expect(m.from?.name).toBe('Cecília Gonçalves');
    expect(m.headers['x-tag']).toEqual(['ação normal']);
    expect(m.text).toContain('A operação falhou com código 500.');
  });

  it('8-bit Latin-1 headers decode as Windows-1252', async () => {
    const m = await parse('8bit-headers.eml');
    expect(m.subject).toBe('Solicitação – urgente');
    expect(m.from).toEqual({ name: 'João Araújo', address: 'joao@cliente.example' });
    expect(m.text).toContain('Corpo em UTF-8: ação.');
    expect(m.problems).toContain('header-charset-fallback:windows-1252');
  });

  it('no Message-ID', async () => {
    const m = await parse('no-message-id.eml');
    expect(m.messageId).toBeNull();
    expect(m.problems).toContain('no-message-id');
    expect(m.text).toBe('Scanned document ready.\n');
  });

  it('NUL bytes are stripped and noted', async () => {
    const m = await parse('nul-bytes.eml');
    expect(m.subject).toBe('Status report');
    expect(m.text).toBe('Line one continues\nLine two\n');
    expect(m.headers['subject']).toEqual(['Status report']);
    expect(m.problems).toContain('nul-bytes');
  });

  it('boundary never closed: parts still extracted', async () => {
    const m = await parse('broken-unclosed-boundary.eml');
    expect(m.text).toBe('Segue a foto do erro.');
    expect(m.attachments.map((a) => [a.filename, a.contentType, a.size])).toEqual([['erro.png', 'image/png', 70]]);
    expect(Buffer.from(m.attachments[0]!.content).subarray(1, 4).toString()).toBe('PNG');
  });

  it('multipart without boundary parameter: body recovered, nothing dropped', async () => {
    const m = await parse('broken-missing-boundary.eml');
    expect(m.text).toBe('Texto que não pode se perder.');
    expect(m.attachments.map((a) => a.filename)).toEqual(['dados.csv']);
    expect(Buffer.from(m.attachments[0]!.content).toString()).toBe('id,valor\r\n1,10');
    expect(m.problems).toEqual(expect.arrayContaining(['missing-boundary', 'body-recovered']));
  });

  it('nested multipart without boundary is recovered too', async () => {
    const raw = Buffer.from('From: a@b.example\r\nContent-Type: multipart/mixed; boundary=Z\r\n\r\n--Z\r\nContent-Type: text/plain\r\n\r\nouter\r\n' +
      '--Z\r\nContent-Type: multipart/alternative\r\n\r\n--Y\r\nContent-Type: text/plain\r\n\r\ninner text\r\n--Y--\r\n--Z--\r\n');
    const m = await parseMessage(raw);
    expect(m.text).toContain('outer');
    expect(m.text).toContain('inner text');
    expect(m.problems).toContain('body-recovered');
  });

  it('base64 garbage does not break the other parts', async () => {
    const m = await parse('base64-garbage.eml');
    expect(m.subject).toBe('Garbage base64');
    expect(m.text).toContain('Olá, mundo!');
    expect(m.attachments.map((a) => a.filename)).toEqual(['broken.bin']);
    expect(m.attachments[0]!.size).toBe(m.attachments[0]!.content.length);
  });

  it('multipart/report delivery status notification (bounce)', async () => {
    const m = await parse('bounce-dsn.eml');
    expect(m.contentType).toBe('multipart/report');
    expect(m.from?.address).toBe('MAILER-DAEMON@mx.acme.example');
    expect(m.headers['return-path']).toEqual(['<>']);
    expect(m.text).toContain('Recipient address rejected: User unknown');
    expect(m.text).toContain('Status: 5.1.1');
    expect(m.text).toContain('Final-Recipient: rfc822; nobody@cliente.example');
    const headersPart = m.attachments.find((a) => a.contentType === 'text/rfc822-headers');
    expect(Buffer.from(headersPart!.content).toString()).toContain('Message-ID: <ticket-42-reply-3@acme.example>');
  });

  it('auto-reply keeps Auto-Submitted for routing', async () => {
    const m = await parse('auto-reply.eml');
    expect(m.headers['auto-submitted']).toEqual(['auto-replied']);
    expect(m.headers['precedence']).toEqual(['auto_reply']);
    expect(m.subject).toBe('Resposta automática: Re: [ACME-000077] Chamado aberto');
    expect(m.inReplyTo).toEqual(['ticket-77-created@acme.example']);
    expect(m.text).toContain('Estou de férias até 03/06.');
  });

  it('reply with In-Reply-To, folded References and Reply-To', async () => {
    const m = await parse('reply-thread.eml');
    expect(m.messageId).toBe('CAF5678efgh@mail.clientes.example.com.br');
    expect(m.inReplyTo).toEqual(['ticket-000123-1@acme.example']);
    expect(m.references).toEqual(['CAF1234abcd@mail.clientes.example.com.br', 'ticket-000123-1@acme.example']);
    expect(m.replyTo).toEqual([
      { name: 'Maria', address: 'maria.pessoal@example.org' }, // "(pessoal)" is an RFC 5322 comment
      { name: '', address: 'equipe@clientes.example.com.br' },
    ]);
  });

  it('subject with a ticket tag', async () => {
    const m = await parse('ticket-tag.eml');
    expect(m.subject).toBe('RE: [ACME-000123] Printer on 3rd floor is offline');
    expect(m.subject.match(/\[ACME-(\d{6})\]/)?.[1]).toBe('000123');
    expect(m.text).toBe('Still offline again.\n');
  });

  it('every fixture survives structuredClone unchanged', async () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(19);
    for (const f of fixtures) {
      const m = await parse(f);
      expect(structuredClone(m), f).toEqual(m);
      expect(m.size, f).toBe(load(f).length);
    }
  });
});

describe('parseMessage: pathological input', () => {
  it('a 1 MB header line is truncated, not fatal', async () => {
    const raw = Buffer.from(`From: a@b.example\r\nX-Big: ${'a'.repeat(1024 * 1024)}\r\nSubject: big\r\nMessage-ID: <big@x>\r\n\r\nstill here\r\n`);
    const t0 = performance.now();
    const m = await parseMessage(raw);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(m.subject).toBe('big');
    expect(m.text).toBe('still here\n');
    expect(m.headers['x-big']?.[0]?.length).toBeLessThanOrEqual(64 * 1024);
    expect(m.problems).toContain('truncated-headers');
    expect(m.problems).not.toContain('unparsed');
  });

  it('10,000 Received headers: bounded, message intact', async () => {
    const received = 'Received: from relay.example by mx.example with ESMTP id 1234; Mon, 1 Jan 2024 00:00:00 +0000\r\n'.repeat(10_000);
    const raw = Buffer.from(`${received}From: a@b.example\r\nSubject: many hops\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nação\r\n`);
    const t0 = performance.now();
    const m = await parseMessage(raw);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(m.subject).toBe('many hops');
    expect(m.text).toBe('ação\n');
    expect(m.headers['received']!.length).toBeLessThanOrEqual(200);
    expect(m.problems).toContain('truncated-headers');
  });

  it('200 levels of multipart nesting', async () => {
    let body = 'Content-Type: text/plain; charset=utf-8\r\n\r\nNão está perdido\r\n';
    for (let i = 199; i >= 0; i--) body = `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n${body}\r\n--b${i}--\r\n`;
    const raw = Buffer.from(`From: a@b.example\r\nSubject: deep\r\n${body}`);
    const t0 = performance.now();
    const m = await parseMessage(raw);
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(m.text).toContain('Não está perdido');
  });

  it('more parts than mailparser allows: fallback still extracts them', async () => {
    let body = '';
    for (let i = 0; i < 1200; i++) body += `--Z\r\nContent-Type: text/plain\r\n\r\npart ${i}\r\n`;
    const raw = Buffer.from(`From: a@b.example\r\nSubject: parts\r\nContent-Type: multipart/mixed; boundary=Z\r\n\r\n${body}--Z--\r\n`);
    const m = await parseMessage(raw);
    expect(m.problems).toContain('unparsed');
    expect(m.subject).toBe('parts');
    expect(m.text).toContain('part 0\n');
    expect(m.text).toContain('part 1199');
  });

  it('timeout → tolerant fallback with the same content', async () => {
    const m = await parseMessage(load('alternative-with-attachment.eml'), { timeoutMs: 0 });
    expect(m.problems).toEqual(expect.arrayContaining(['unparsed', 'timeout']));
    expect(m.subject).toBe('Invoice 2024-0087');
    expect(m.text).toBe('Please find the invoice attached.');
    expect(m.html).toBe('<p>Please find the <b>invoice</b> attached.</p>');
    expect(m.attachments.map((a) => [a.filename, a.id])).toEqual([
      ['invoice-2024-0087.pdf', '9d6486232a93f9d90c5ef82ffc9fa20ab423dcdbafe60cf10898bb858406b8eb'],
    ]);
  });

  it('fallback walker: 200 levels whose boundaries prefix each other (b1 / b10 / b100)', () => {
    let body = 'Content-Type: text/plain; charset=utf-8\r\n\r\nNão está perdido\r\n';
    for (let i = 199; i >= 0; i--) body = `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n${body}\r\n--b${i}--\r\n`;
    const m = parseFallback(Buffer.from(`From: a@b.example\r\nSubject: deep\r\n${body}`));
    expect(m.subject).toBe('deep');
    expect(m.problems).toContain('truncated-nesting');
    expect(m.text).toBe('');
    expect(m.attachments).toHaveLength(1); // below the depth limit the rest is kept whole, not dropped
    expect(Buffer.from(m.attachments[0]!.content).toString()).toContain('Não está perdido');
    let shallow = 'Content-Type: text/plain\r\n\r\nfolha\r\n';
    for (let i = 12; i >= 0; i--) shallow = `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n${shallow}\r\n--b${i}--\r\n`;
    expect(parseFallback(Buffer.from(`Subject: s\r\n${shallow}`)).text).toBe('folha\n');
  });

  it('parseFallback decodes charsets like the main path', () => {
    const m = parseFallback(load('latin1-8bit-no-charset.eml'));
    expect(m.problems).toEqual(expect.arrayContaining(['unparsed', 'charset-fallback:windows-1252']));
    expect(m.text).toContain('Não foi possível acessar o sistema');
    const u = parseFallback(load('unknown-charset.eml'));
    expect(u.text).toContain('Relatório gerado: operação concluída.');
    expect(u.text).toContain('Segunda parte: ação válida em UTF-8.');
  });

  it('maxAttachmentBytes keeps metadata, drops content, notes it', async () => {
    const m = await parseMessage(load('alternative-with-attachment.eml'), { maxAttachmentBytes: 100 });
    const a = m.attachments[0]!;
    expect(a).toMatchObject({ filename: 'invoice-2024-0087.pdf', size: 353, id: '9d6486232a93f9d90c5ef82ffc9fa20ab423dcdbafe60cf10898bb858406b8eb' });
    expect(a.content.length).toBe(0);
    expect(m.problems).toContain('attachment-too-large:invoice-2024-0087.pdf');
    const f = await parseMessage(load('alternative-with-attachment.eml'), { maxAttachmentBytes: 100, timeoutMs: 0 });
    expect(f.attachments[0]?.content.length).toBe(0);
    expect(f.problems).toContain('attachment-too-large:invoice-2024-0087.pdf');
  });

  it('empty, header-only and binary junk never throw', async () => {
    const e = await parseMessage(new Uint8Array(0));
    expect(e).toMatchObject({ size: 0, text: '', subject: '', messageId: null });
    const h = await parseMessage(Buffer.from('Subject: only headers'));
    expect(h.subject).toBe('only headers');
    const j = await parseMessage(latin1('\x00\x01\x02\xff\xfe\r\n\r\n\x93x\x94'));
    expect(j.text).toBe('ÿþ\n\n“x”'); // controls stripped (noted); not a header block: all of it is body, NUL stripped
    expect(j.problems).toEqual(expect.arrayContaining(['nul-bytes', 'control-chars']));
  });

  it('quoted-printable with a megabyte of trailing-space-free spaces stays fast (fallback path)', async () => {
    const raw = Buffer.from(`Subject: qp\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${' '.repeat(1_000_000)}x=C3=A7 \r\n`);
    const t0 = performance.now();
    const m = parseFallback(raw);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(m.text.endsWith('xç\n')).toBe(true);
  });

  it('no header block, or no blank line after the headers: the text is kept as body', async () => {
    const bare = await parseMessage(Buffer.from('Olá, preciso de ajuda.\r\nObrigado'));
    expect(bare.text).toBe('Olá, preciso de ajuda.\r\nObrigado'.replace(/\r\n/g, '\n'));
    expect(bare.headers).toEqual({});
    const glued = await parseMessage(Buffer.from('Subject: sem separador\r\nFrom: a@b.example\r\nTexto do corpo\r\nsegunda linha\r\n'));
    expect(glued.subject).toBe('sem separador');
    expect(glued.text).toBe('Texto do corpo\nsegunda linha\n');
  });

  it('truncations, byte flips and MIME-token splices of every fixture: no throw, no unhandled error', async () => {
    // vitest fails the run on any uncaught exception / unhandled rejection, which is the real check
    // here: a throw from a stream callback would escape parseMessage's try/catch
    let seed = 42;
    const rand = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
    const tokens = ['\r\n', ':', ';', '"', '--', 'boundary=', 'Content-Type: ', 'multipart/mixed', 'charset=', '=?', '?=', '?Q?', '\x00', '\xff', 'message/rfc822', '<'];
    for (const f of fixtures) {
      const raw = load(f);
      for (let i = 0; i < 12; i++) {
        const cut = raw.subarray(0, rand(raw.length));
        const flipped = Buffer.from(raw);
        for (let k = 0; k < 8; k++) flipped[rand(flipped.length)] = rand(256);
        const p = rand(raw.length);
        const spliced = Buffer.concat([raw.subarray(0, p), latin1(tokens[rand(tokens.length)]!), raw.subarray(p)]);
        for (const input of [cut, flipped, spliced]) {
          const m = await parseMessage(input);
          expect(m.size).toBe(input.length);
          expect(() => structuredClone(m)).not.toThrow();
        }
      }
    }
  });
});

describe('charset helpers', () => {
  it('decodeWords: adjacent words joined, split multi-byte char, unknown charset sniffed', () => {
    expect(decodeWords('=?UTF-8?B?w6c=?= =?UTF-8?B?w6M=?=o')).toBe('ção');
    expect(decodeWords('=?UTF-8?B?w6fD?= =?UTF-8?B?o28=?=')).toBe('ção'); // "ã" split across words
    expect(decodeWords('=?iso-8859-1?q?N=E3o?= pode')).toBe('Não pode');
    const problems: string[] = [];
    expect(decodeWords('=?x-mailroom-unknown?Q?N=E3o?=', problems)).toBe('Não');
    expect(problems).toEqual(['unknown-charset:x-mailroom-unknown', 'header-charset-fallback:windows-1252']);
    expect(decodeWords('plain =?broken')).toBe('plain =?broken');
    expect(decodeWords('=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?= 1')).toBe('テスト 1'); // iconv-lite has no ISO-2022-JP
  });

  it('htmlToText: blocks, lists, links, entities, script/style skipped, stray "<" kept', () => {
    const t = htmlToText('<html><head><style>p{}</style></head><body><h1>Pedido  enviado</h1><p>Ol&aacute; Jo&atilde;o &amp; cia&nbsp;&#8220;x&#x201D;</p>' +
      '<ul><li>um</li><li>dois</li></ul><p><a href="https://t.example/?a=1&amp;b=2">rastreio</a> <a href="https://t.example/">https://t.example/</a></p>' +
      '<script>alert(1)</script><p>a < b</p></body></html>');
    expect(t).toBe('Pedido enviado\n\nOlá João & cia “x”\n\n* um\n* dois\n\nrastreio [https://t.example/?a=1&b=2] https://t.example/\n\na < b');
  });

  it('htmlToText stays linear on hostile markup', () => {
    const hostiles = ['<'.repeat(300_000), '<a '.repeat(100_000), '<a href="https://x.example/">x</a>'.repeat(20_000),
      '&nbsp;'.repeat(200_000) + 'x', `<pre>${' '.repeat(1_000_000)}x</pre>`];
    for (const hostile of hostiles) {
      const t0 = performance.now();
      htmlToText(hostile);
      expect(performance.now() - t0).toBeLessThan(3000);
    }
  });
});
