// certificateProblems(): trust and name are two questions, both answered (test-mailbox's TLS step).
// The real handshakes are in test/integration/test-mailbox-certificates.test.ts.
import type { PeerCertificate } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { certificateNames, certificateProblems } from '../../src/outbound/certificate-problems.js';

const cert = (o: Partial<PeerCertificate> = {}) =>
  ({ subject: { CN: 'mail.other.example' }, issuer: { CN: 'Some CA' }, subjectaltname: 'DNS:mail.other.example, DNS:other.example, IP Address:10.0.0.1', valid_from: 'Jan  1 00:00:00 2020 GMT', valid_to: 'Jan  1 00:00:00 2021 GMT', ...o }) as PeerCertificate;
const err = (code: string) => Object.assign(new Error(code), { code });

describe('certificateProblems', () => {
  it('the names: subjectAltName DNS and IP entries, else the CN', () => {
    expect(certificateNames(cert())).toEqual(['mail.other.example', 'other.example', '10.0.0.1']);
    expect(certificateNames(cert({ subjectaltname: undefined as unknown as string }))).toEqual(['mail.other.example']);
  });

  it('self-signed and for another name: both, with a hint each', () => {
    const p = certificateProblems('imap.acme.example', cert(), err('DEPTH_ZERO_SELF_SIGNED_CERT'), new Error('altname'));
    expect(p.trust).toMatch(/^self-signed/);
    expect(p.name).toBe('the certificate is for mail.other.example, other.example, 10.0.0.1, not for the configured host imap.acme.example');
    expect(p.hints).toHaveLength(2);
  });

  it("Node's ERR_TLS_CERT_ALTNAME_INVALID as the chain's verdict is the name problem only", () => {
    const p = certificateProblems('localhost', cert(), err('ERR_TLS_CERT_ALTNAME_INVALID'), new Error('altname'));
    expect([p.trust, p.hints.length]).toEqual([null, 1]);
    expect(p.name).toContain('not for the configured host localhost');
  });

  it('an unknown CA, an expired certificate; a good one has no problem', () => {
    expect(certificateProblems('mail.other.example', cert(), err('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), undefined).trust).toBe('issued by Some CA, a CA this machine does not trust (UNABLE_TO_VERIFY_LEAF_SIGNATURE)');
    expect(certificateProblems('mail.other.example', cert(), 'CERT_HAS_EXPIRED', undefined).trust).toBe('expired on 2021-01-01 (CERT_HAS_EXPIRED)');
    expect(certificateProblems('mail.other.example', cert(), null, undefined)).toEqual({ trust: null, name: null, hints: [] });
  });
});
