// The pure decision behind suspending a sending mailbox: N SMTP auth refusals in a row, or a
// permanent token endpoint error, suspend it; nothing else does.
import { describe, expect, it } from 'vitest';
import { classifySendError } from '../../src/outbound/errors.js';
import { decideSenderSuspension } from '../../src/outbound/sender-suspension.js';
import { tokenErrorFromResponse } from '../../src/oauth/token-errors.js';

const smtpErr = (responseCode: number, response: string, command: string, code = 'EENVELOPE') => Object.assign(new Error(`Mail command failed: ${response}`), { code, responseCode, response, command });
const AT = '2026-01-01T00:00:00.000Z';

describe('decideSenderSuspension', () => {
  const refusal = smtpErr(535, '535 5.7.3 Authentication unsuccessful', 'AUTH XOAUTH2', 'EAUTH');
  const c = classifySendError(refusal);

  it('N SMTP auth refusals in a row suspend, with the reply code and enhanced status', () => {
    expect(decideSenderSuspension(refusal, c, 2, 3, AT)).toBeNull();
    expect(decideSenderSuspension(refusal, c, 3, 3, AT)).toMatchObject({ source: 'server', code: '535 5.7.3', error: null, at: AT, reason: expect.stringMatching(/refused authentication 3 times in a row/) });
  });

  it('a permanent token endpoint error suspends at once with the provider code; a temporary one never', () => {
    const revoked = tokenErrorFromResponse(400, { error: 'invalid_grant', error_description: 'AADSTS50173: The provided grant has expired due to it being revoked.', error_codes: [50173] });
    expect(decideSenderSuspension(revoked, classifySendError(revoked), 0, 5, AT)).toMatchObject({ source: 'token-endpoint', code: 'AADSTS50173', error: 'invalid_grant' });
    const busy = tokenErrorFromResponse(503, { error: 'temporarily_unavailable' });
    expect(decideSenderSuspension(busy, classifySendError(busy), 9, 5, AT)).toBeNull();
  });

  it('errors that are not about the login never suspend', () => {
    const net = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNECTION' });
    expect(decideSenderSuspension(net, classifySendError(net), 99, 1, AT)).toBeNull();
  });
});
