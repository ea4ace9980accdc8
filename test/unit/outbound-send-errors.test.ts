// 530 / 5.7.0 "authentication required" at MAIL FROM is the sending mailbox's problem (retried,
// the lane paused, counted as an auth refusal toward suspension), not a per-message delivery failure.
import { describe, expect, it } from 'vitest';
import { classifySendError, isAuthRefusal } from '../../src/outbound/errors.js';
import { tokenErrorFromResponse } from '../../src/oauth/token-errors.js';

const smtpErr = (responseCode: number, response: string, command: string, code = 'EENVELOPE') => Object.assign(new Error(`Mail command failed: ${response}`), { code, responseCode, response, command });

describe('530 / 5.7.0 authentication required', () => {
  it('at MAIL FROM is a mailbox problem: retried with the lane paused, never a permanent failure', () => {
    const c = classifySendError(smtpErr(530, '530 5.7.0 Authentication required', 'MAIL FROM'));
    expect(c).toMatchObject({ class: 'mailbox', pauseLane: true, responseCode: 530 });
    expect(isAuthRefusal(c)).toBe(true);
    // the same words with another 5xx code (some servers answer 550 5.7.0 ...)
    expect(classifySendError(smtpErr(550, '550 5.7.0 Authentication required', 'MAIL FROM')).class).toBe('mailbox');
  });

  it('a real 5xx verdict on the message stays permanent and is no auth refusal', () => {
    const c = classifySendError(smtpErr(550, '550 5.1.1 No such user', 'RCPT TO'));
    expect(c.class).toBe('permanent');
    expect(isAuthRefusal(c)).toBe(false);
  });

  it('auth refusals: 535 at AUTH yes; a 454 temporary auth failure, a missing secret or a token endpoint error no', () => {
    expect(isAuthRefusal(classifySendError(smtpErr(535, '535 5.7.8 Authentication credentials invalid', 'AUTH PLAIN', 'EAUTH')))).toBe(true);
    expect(isAuthRefusal(classifySendError(smtpErr(454, '454 4.7.0 Temporary authentication failure', 'AUTH PLAIN', 'EAUTH')))).toBe(false);
    expect(isAuthRefusal(classifySendError(Object.assign(new Error('cannot read secret file /x (ENOENT)'), { code: 'ECONFIG' })))).toBe(false);
    expect(isAuthRefusal(classifySendError(tokenErrorFromResponse(400, { error: 'invalid_grant' })))).toBe(false);
  });
});
