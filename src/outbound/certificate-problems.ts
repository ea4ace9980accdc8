// What is wrong with a server's certificate, decided purely from what the TLS handshake returned, for
// `mailroom test-mailbox` (IMAP, POP3 and SMTP share it through probe.ts). Trust (the chain) and
// identity (the name) are separate questions and both are answered: a self-signed certificate issued
// for another host has two problems, and fixing only the first one named leaves the second.
import type { PeerCertificate } from 'node:tls';

export interface CertificateProblems {
  /** Why the chain is not trusted (null: trusted). */
  trust: string | null;
  /** Why the certificate does not cover the configured host (null: it does). */
  name: string | null;
  /** What to do, one line per problem. */
  hints: string[];
}

/** The names a certificate is for: its subjectAltName DNS names and IP addresses, else its CN. */
export function certificateNames(c: Pick<PeerCertificate, 'subject' | 'subjectaltname'>): string[] {
  const alt = (c.subjectaltname ?? '')
    .split(/,\s*/)
    .map((s) => /^(?:DNS|IP Address):(.+)$/.exec(s.trim())?.[1])
    .filter((s): s is string => Boolean(s));
  if (alt.length) return alt;
  const cn = c.subject?.CN;
  return cn ? [String(cn)] : [];
}

const date = (s: string | undefined) => {
  const d = new Date(s ?? '');
  return Number.isNaN(d.getTime()) ? '?' : d.toISOString().slice(0, 10);
};

function trustProblem(code: string, c: Pick<PeerCertificate, 'issuer' | 'valid_to' | 'valid_from'>): { text: string; hint: string } {
  const issuer = c.issuer?.CN ?? c.issuer?.O ?? '?';
  switch (code) {
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return { text: `self-signed (no CA vouches for it; ${code})`, hint: 'a self-signed certificate: set caFile to its PEM file (the certificate itself), or give the server one issued by a CA' };
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return { text: `its chain ends in a self-signed CA this machine does not trust (${code})`, hint: 'a private CA: set caFile to that CA\'s PEM file' };
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return { text: `issued by ${issuer}, a CA this machine does not trust (${code})`, hint: 'a private CA (or a server that omits its intermediate certificate): set caFile to the issuing CA\'s PEM file' };
    case 'CERT_HAS_EXPIRED':
      return { text: `expired on ${date(c.valid_to)} (${code})`, hint: 'the certificate expired: the server needs a new one' };
    case 'CERT_NOT_YET_VALID':
      return { text: `not valid before ${date(c.valid_from)} (${code}; check this machine's clock)`, hint: 'the certificate is not valid yet: check the clocks here and on the server' };
    default:
      return { text: code, hint: 'check the certificate chain; for a private or self-signed CA set caFile to its PEM file' };
  }
}

/**
 * `authorizationError`: the chain's verdict (null when trusted); `identityError`: checkServerIdentity's
 * (undefined when the certificate covers `host`).
 */
export function certificateProblems(host: string, cert: PeerCertificate, authorizationError: Error | string | null, identityError: Error | undefined): CertificateProblems {
  const hints: string[] = [];
  let trust: string | null = null;
  const code = !authorizationError ? null : typeof authorizationError === 'string' ? authorizationError : ((authorizationError as { code?: string }).code ?? authorizationError.message);
  // Node reports a trusted chain with the wrong name as ERR_TLS_CERT_ALTNAME_INVALID: that is the
  // name question (answered below from checkServerIdentity), not a trust problem.
  if (code && code !== 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const p = trustProblem(code, cert);
    trust = p.text;
    hints.push(p.hint);
  }
  let name: string | null = null;
  if (identityError) {
    const names = certificateNames(cert);
    const list = names.length ? names.join(', ') : 'no name';
    name = `the certificate is for ${list}, not for the configured host ${host}`;
    hints.push(`a name mismatch: set host to a name the certificate is for (${names[0] ?? '?'}), or give the server a certificate for ${host}`);
  }
  return { trust, name, hints };
}
