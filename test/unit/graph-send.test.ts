// Graph sendMail's refusals mapped onto the SMTP replies they stand for (src/outbound/graph-send.ts):
// the outbox's rules (retry, fail, pause the lane, count toward suspension) then apply unchanged.
import { describe, expect, it } from 'vitest';
import { GraphApiError } from '../../src/graph/client.js';
import { classifySendError, isAuthRefusal } from '../../src/outbound/errors.js';
import { graphSendError, withEnvelopeBcc } from '../../src/outbound/graph-send.js';

const c = (status: number, code: string) => classifySendError(graphSendError(new GraphApiError(status, code, 'x')));

describe('Graph sendMail outcomes', () => {
  it('401 and 403 access denied: the mailbox\'s login refused (like 535: lane paused, counts toward suspension)', () => {
    for (const [s, code] of [[401, 'InvalidAuthenticationToken'], [403, 'ErrorAccessDenied']] as const) {
      const k = c(s, code);
      expect(k).toMatchObject({ class: 'mailbox', responseCode: 535, pauseLane: true });
      expect(isAuthRefusal(k)).toBe(true);
    }
  });

  it('403 SendAs denied, 400 and 413: the message is refused for good (5xx)', () => {
    expect(c(403, 'ErrorSendAsDenied')).toMatchObject({ class: 'permanent', responseCode: 550 });
    expect(c(400, 'ErrorInvalidRecipients')).toMatchObject({ class: 'permanent', responseCode: 554 });
    expect(c(413, 'ErrorMessageSizeExceeded')).toMatchObject({ class: 'permanent', responseCode: 552 });
  });

  it('429/503 past the waits and 5xx: later (4xx), 429/503 pausing the lane like 421', () => {
    expect(c(429, 'ApplicationThrottled')).toMatchObject({ class: 'temporary', responseCode: 421, pauseLane: true });
    expect(c(500, 'ErrorInternalServerError')).toMatchObject({ class: 'temporary', responseCode: 451, pauseLane: false });
  });

  it('envelope recipients the headers do not name are given to Graph as Bcc', () => {
    const raw = Buffer.from('From: a@x.example\r\nTo: "B" <b@x.example>,\r\n c@x.example\r\nSubject: s\r\n\r\nTo: body@x.example\r\n');
    expect(withEnvelopeBcc(raw, ['b@x.example', 'C@x.example']).equals(raw)).toBe(true);
    expect(withEnvelopeBcc(raw, ['b@x.example', 'body@x.example']).toString().split('\r\n')[0]).toBe('Bcc: body@x.example');
  });
});
