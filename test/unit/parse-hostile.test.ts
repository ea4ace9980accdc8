// parseMessage on what a new-user trial fed through a real Dovecot: a stray byte in UTF-8, truncated
// sequences, NUL served as 0x80, broken encoded words, control characters, invalid base64 and a
// huge subject. Each case checks the decoded value and the note it leaves, on both parse paths.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeBytes, decodeMixed, sniffDecode } from '../../src/ingest/charset.js';
import { decodeWords } from '../../src/ingest/headers.js';
import { MAX_SUBJECT_CHARS, parseFallback, parseMessage } from '../../src/ingest/parse.js';

const dir = new URL('../fixtures/mail/', import.meta.url);
const load = (name: string): Buffer => readFileSync(new URL(name, dir));
const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');
/** Both paths: mailparser, and the tolerant walker a dead worker falls back to. */
const both = async (raw: Buffer) => [await parseMessage(raw), parseFallback(raw)];

describe('mixed UTF-8 / Windows-1252 decoding', () => {
  it('one invalid byte in a UTF-8 body garbles only itself', async () => {
    for (const m of await both(load('utf8-one-bad-byte.eml'))) {
      expect(m.text).toContain('A operação não foi concluída às 10h.');
      expect(m.text).toContain('O produto "Café Especial" está sem preço.');
      expect(m.problems).toContain('invalid-utf8:windows-1252');
      expect(m.problems).not.toContain('charset-fallback:windows-1252');
    }
  });

  it('a truncated quoted-printable sequence (=C3=A7=C3): ç kept, the lone byte as Windows-1252', async () => {
    for (const m of await both(load('qp-truncated-utf8.eml'))) {
      expect(m.text.trimEnd()).toBe('Configuração: çÃ');
      expect(m.problems).toContain('invalid-utf8:windows-1252');
    }
  });

  it('undeclared Windows-1252 text with one pair that happens to be valid UTF-8 stays Windows-1252', async () => {
    for (const m of await both(load('cp1252-accidental-utf8-pair.eml'))) {
      expect(m.text).toContain('ATENÇÃO: a tecla «Ç» não funciona após a atualização.');
      expect(m.text).toContain('Já reiniciei o computador três vezes e a situação continua igual.');
      expect(m.problems).toContain('charset-fallback:windows-1252');
      expect(m.problems).not.toContain('possible-nul-bytes'); // no charset declared
    }
  });

  it('decoder primitives', () => {
    expect(decodeMixed(latin1('a\xc3\xa7\xc3'))).toBe('açÃ');
    expect(decodeMixed(latin1('\x80\xe2\x82\xac\x93'))).toBe('€€“'); // 0x80 and 0x93 as 1252, E2 82 AC as UTF-8
    expect(decodeMixed(latin1('\xed\xa0\x80'))).toBe('í\u00a0€'); // a UTF-8 surrogate is not valid UTF-8
    expect(decodeMixed(latin1('\xc0\xaf'))).toBe('À¯'); // overlong '/'
    expect(sniffDecode(latin1('Não é válido'))).toEqual({ text: 'Não é válido', problems: ['charset-fallback:windows-1252'] });
    expect(sniffDecode(Buffer.from('Não é válido'))).toEqual({ text: 'Não é válido', problems: [] });
  });
});

describe('NUL bytes served as 0x80 over IMAP', () => {
  it("a part declared UTF-8 with 0x80 outside any sequence is noted 'possible-nul-bytes'", async () => {
    for (const m of await both(load('imap-nul-as-0x80.eml'))) {
      expect(m.text).toContain('Line one€€ continues');
      expect(m.problems).toContain('possible-nul-bytes');
    }
    expect(decodeBytes(latin1('x\x80'), 'us-ascii').problems).toContain('possible-nul-bytes');
  });

  it('a valid € (E2 82 AC), an undeclared 0x80 and a Windows-1252 part are not noted', () => {
    expect(decodeBytes(Buffer.from('5 €'), 'utf-8').problems).toEqual([]);
    expect(decodeBytes(latin1('5 \x80'), undefined).problems).not.toContain('possible-nul-bytes');
    expect(decodeBytes(latin1('5 \x80'), 'windows-1252')).toEqual({ text: '5 €', problems: [] });
  });
});

describe('RFC 2047 encoded words', () => {
  it('an invalid encoded word is left as it is, and noted as a header problem, not a body one', async () => {
    for (const m of await both(load('broken-encoded-word.eml'))) {
      expect(m.subject).toBe('=?UTF-8?B?!!!notb64?= and =?UTF-8?Q?bad=ZZq?= Olá');
      expect(m.from?.address).toBe('odd@cliente.example'); // its display name is mailparser's to decode
      expect(m.text.trim()).toBe('Plain ASCII body.');
      expect(m.problems).toContain('invalid-encoded-word');
      expect(m.problems.filter((p) => p.includes('charset-fallback') || p.includes('invalid-utf8'))).toEqual([]);
    }
  });

  it('bad bytes inside a valid word are a header-charset note', () => {
    const problems: string[] = [];
    expect(decodeWords('=?UTF-8?Q?N=E3o?=', problems)).toBe('Não');
    expect(problems).toEqual(['header-charset-fallback:windows-1252']);
    expect(decodeWords('=?UTF-8?B?w6c?=')).toBe('ç'); // missing padding is tolerated
    expect(decodeWords('=?UTF-8?B?w?=')).toBe('=?UTF-8?B?w?='); // one base64 char is no byte at all
    expect(decodeWords('=?UTF-8?B?w6c=?= =?UTF-8?B?***?= =?UTF-8?B?w6M=?=')).toBe('ç =?UTF-8?B?***?= ã');
  });
});

describe('control characters and invalid base64', () => {
  it('C0 controls but \\t \\n \\r, and DEL, are stripped from text, subject and filenames, noted', async () => {
    for (const m of await both(load('control-chars.eml'))) {
      expect(m.text).toBe('Alerta [31mvermelho ação\tfim');
      expect(m.subject).toBe('Bell and escape[2J');
      expect(m.attachments.map((a) => a.filename)).toEqual(['notes.txt']);
      expect(m.problems).toContain('control-chars');
    }
  });

  it("base64 with characters outside its alphabet is noted 'invalid-base64'", async () => {
    const [mp, walker] = await both(load('base64-garbage.eml'));
    expect(mp!.problems).toContain('invalid-base64'); // the text part "@@@@ %%%% ^^^^"
    expect(walker!.problems).toContain('invalid-base64');
    for (const m of [mp!, walker!]) expect(m.text).not.toMatch(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/); // eslint-disable-line no-control-regex
    const ok = await parseMessage(load('alternative-with-attachment.eml'));
    expect(ok.problems).not.toContain('invalid-base64');
  });
});

describe('subject length', () => {
  it(`a 1 MB subject is cut to ${MAX_SUBJECT_CHARS} chars and noted; the header map keeps what the scan kept`, async () => {
    const raw = Buffer.from(`From: a@cliente.example\r\nSubject: ${'x'.repeat(1_000_000)}\r\nMessage-ID: <long@x>\r\n\r\nbody\r\n`);
    for (const m of await both(raw)) {
      expect(m.subject).toBe('x'.repeat(MAX_SUBJECT_CHARS));
      expect(m.problems).toContain('subject-truncated');
    }
    const emoji = Buffer.from(`Subject: ${'a'.repeat(MAX_SUBJECT_CHARS - 1)}😀\r\n\r\n`);
    expect((await parseMessage(emoji)).subject).toBe('a'.repeat(MAX_SUBJECT_CHARS - 1)); // no half surrogate
    expect((await parseMessage(load('simple-plain.eml'))).problems).not.toContain('subject-truncated');
  });
});
