// Issue 20 item 4: a server that echoes the password must not leak it. The classifiers strip the
// mailbox's actual secret values, in every form a server might echo them, before any output path.
import { describe, expect, it } from 'vitest';
import { classifyError, redactMessage } from '../../src/inbound/errors.js';
import { classifySendError, splitRecipients } from '../../src/outbound/errors.js';
import { rememberSecrets, secretsOf } from '../../src/observability/known-secrets.js';
import { MIN_SECRET_LENGTH, scrubSecrets, secretForms } from '../../src/observability/secret-scrub.js';
import { tokenErrorFromResponse } from '../../src/oauth/token-errors.js';

const PASS = 'Hunter2-s3cret/pw+x';

describe('scrubSecrets', () => {
  it('removes the value itself and its URL, form, JSON and IMAP-quoted forms', () => {
    const s = 'p@ss w"rd\\ & more=1';
    const texts = [s, encodeURIComponent(s), new URLSearchParams({ a: s }).toString().slice(2), JSON.stringify(s), `"${s.replace(/["\\]/g, '\\$&')}"`, encodeURIComponent(s).toLowerCase()];
    for (const t of texts) expect(scrubSecrets(`-ERR wrong password ${t} end`, [s])).not.toContain('w"rd');
    for (const t of texts.slice(1, 3)) expect(scrubSecrets(`x ${t} y`, [s])).toBe('x <redacted> y');
  });

  it('removes the base64 of the secret alone (AUTH LOGIN) and inside AUTH PLAIN / XOAUTH2 blobs, any alignment', () => {
    const plain = (user: string) => Buffer.from(`\0${user}\0${PASS}`).toString('base64');
    for (const user of ['a', 'ab', 'abc', 'alice@example.org']) {
      const out = scrubSecrets(`535 5.7.8 bad credentials ${plain(user)}`, [PASS]);
      expect(out).toContain('<redacted>');
      // what is left of the blob does not decode to the password any more
      const left = out.split(' ').pop()!.replace('<redacted>', '');
      expect(Buffer.from(left, 'base64').toString('latin1')).not.toContain('s3cret');
    }
    expect(scrubSecrets(`334 ${Buffer.from(PASS).toString('base64')}`, [PASS])).toBe('334 <redacted>');
    const token = 'eyJ0eXAiOiJKV1QiLCJhbGciOi.access-token-value';
    const xoauth = Buffer.from(`user=u@example.org\x01auth=Bearer ${token}\x01\x01`).toString('base64');
    expect(scrubSecrets(`NO ${xoauth}`, [token])).toMatch(/<redacted>/);
    expect(scrubSecrets(`x ${Buffer.from(token).toString('base64url')} y`, [token])).toBe('x <redacted> y');
  });

  it(`short secrets (< ${MIN_SECRET_LENGTH} chars) only as a whole word: "a" does not eat every a`, () => {
    expect(MIN_SECRET_LENGTH).toBe(4);
    expect(scrubSecrets('-ERR [AUTH] wrong password a, try again', ['a'])).toBe('-ERR [AUTH] wrong password <redacted>, try again');
    expect(scrubSecrets('authentication failed for alice', ['a'])).toBe('authentication failed for alice');
    expect(scrubSecrets('bad password "xy" given', ['xy'])).toBe('bad password "<redacted>" given');
    expect(secretForms('abc')).toEqual(['abc']);
    expect(scrubSecrets('password abc.', ['abc'])).toBe('password <redacted>.');
  });

  it('four characters or more: replaced wherever they appear', () => {
    expect(scrubSecrets('xxpass1yy', ['pass1'])).toBe('xx<redacted>yy');
    expect(scrubSecrets('nothing here', [])).toBe('nothing here');
  });
});

describe('redactMessage', () => {
  it('keeps "login failed for <user>" (regression: the LOGIN rule ate the word after it)', () => {
    expect(redactMessage('login failed for alice')).toBe('login failed for alice');
    expect(redactMessage('LOGIN failed for user alice')).toBe('LOGIN failed for user alice');
    expect(redactMessage('Login failed: bad password')).toBe('Login failed: bad password');
    expect(redactMessage('authenticate failed for alice')).toBe('authenticate failed for alice');
  });

  it('still redacts the commands that carry a credential', () => {
    expect(redactMessage('A1 LOGIN alice hunter2')).toBe('A1 LOGIN alice <redacted>');
    expect(redactMessage('A1 AUTHENTICATE PLAIN AGFsaWNlAGh1bnRlcjI=')).toBe('A1 AUTHENTICATE PLAIN <redacted>');
    expect(redactMessage('PASS hunter2')).toBe('PASS <redacted>');
    expect(redactMessage('Authorization: Bearer abcdefghijklmnop')).toBe('Authorization: Bearer <redacted>');
  });
});

describe('the classifiers scrub the mailbox secret values (the choke point)', () => {
  it('classifyError: POP3 -ERR echoing the password', () => {
    const c = classifyError(new Error(`-ERR [AUTH] wrong password ${PASS}`), [PASS]);
    expect(c).toMatchObject({ class: 'auth', permanent: true });
    expect(c.message).toBe('-ERR [AUTH] wrong password <redacted>');
  });

  it('classifyError: a password at the 500-character cut is removed, not half left', () => {
    const c = classifyError(new Error(`-ERR ${'x'.repeat(490)} ${PASS}`), [PASS]);
    expect(c.message).not.toContain(PASS.slice(0, 6));
  });

  it('classifySendError: 535 echoing the password (plain and base64)', () => {
    const err = Object.assign(new Error(`Invalid login: 535 Authentication failed for ${PASS} (${Buffer.from(PASS).toString('base64')})`), { code: 'EAUTH', responseCode: 535, command: 'AUTH PLAIN' });
    const c = classifySendError(err, [PASS]);
    expect(c.class).toBe('mailbox');
    expect(c.message).not.toContain(PASS);
    expect(c.message).not.toContain(Buffer.from(PASS).toString('base64'));
    const { perm } = splitRecipients([{ recipient: 'x@example.org', responseCode: 550, response: `550 no ${PASS}` }], [PASS]);
    expect(perm[0]!.response).toBe('550 no <redacted>');
  });

  it('token endpoint errors: an echoed client secret in a long description is removed before the cut', () => {
    const secret = 'client-secret-value-123';
    const e = tokenErrorFromResponse(400, { error: 'invalid_request', error_description: `${'y'.repeat(190)} ${secret} was wrong.` }, [secret]);
    expect(e.message).not.toContain('client-secret');
  });

  it('known-secrets: per mailbox, newest kept, no duplicates', () => {
    rememberSecrets('mb-scrub', 'one', 'two', null, '');
    rememberSecrets('mb-scrub', 'one');
    expect(secretsOf('mb-scrub')).toEqual(['two', 'one']);
    for (let i = 0; i < 20; i++) rememberSecrets('mb-scrub', `tok-${i}`);
    expect(secretsOf('mb-scrub')).toHaveLength(12);
    expect(secretsOf('other')).toEqual([]);
  });
});
