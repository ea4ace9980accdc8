// Strips a mailbox's actual secret values (password, OAuth2 client secret, refresh and access
// tokens) from a text a server or a library produced, before it reaches a log, status, disk or
// mail (pure). Servers echo what they were sent (`-ERR wrong password <password>`), sometimes
// encoded: base64 as in AUTH PLAIN / LOGIN / XOAUTH2, URL-encoded as in a form post, JSON- or
// IMAP-quoted. redactMessage's patterns cannot know values; this knows nothing but values.
//
// Short secrets: a secret of MIN_SECRET_LENGTH (4) characters or more is replaced wherever it
// appears, in every form below. A shorter one (1–3 characters) is replaced only as a whole word
// (between spaces, quotes, brackets, `=`, `:` or `,`): a password "a" must not turn every "a" of a
// message into <redacted>, and encoded forms of 3 characters are noise.
export const MIN_SECRET_LENGTH = 4;

const REDACTED = '<redacted>';
/** A base64 run shorter than this, cut out of a longer blob, matches too much by chance. */
const MIN_BASE64_CORE = 6;

/**
 * The base64 characters that encode `secret` whatever bytes surround it, for each of the three
 * byte alignments it can have inside a longer encoded blob (AUTH PLAIN's `\0user\0password`,
 * XOAUTH2's `user=...\x01auth=Bearer <token>`): the characters whose 6 bits all come from the secret.
 */
function base64Cores(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let k = 0; k < 3; k++) {
    const encoded = Buffer.concat([Buffer.alloc(k), bytes]).toString('base64').replace(/=+$/, '');
    const first = Math.ceil((8 * k) / 6);
    const last = Math.floor((8 * (k + bytes.length)) / 6) - 1; // last char whose 6 bits end inside
    if (last - first + 1 >= MIN_BASE64_CORE) out.push(encoded.slice(first, last + 1));
  }
  return out;
}

/** Every form in which a server might echo `secret` (the secret itself first). */
export function secretForms(secret: string): string[] {
  if (!secret) return [];
  if (secret.length < MIN_SECRET_LENGTH) return [secret];
  const bytes = Buffer.from(secret, 'utf8');
  const b64 = bytes.toString('base64');
  const forms = [
    secret,
    encodeURIComponent(secret),
    new URLSearchParams({ s: secret }).toString().slice(2),
    JSON.stringify(secret).slice(1, -1),
    secret.replace(/["\\]/g, '\\$&'), // IMAP quoted string
    b64,
    b64.replace(/=+$/, ''),
    b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''),
    ...base64Cores(bytes),
    ...base64Cores(bytes).map((c) => c.replace(/\+/g, '-').replace(/\//g, '_')),
  ];
  const lowerHex = (s: string) => s.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
  forms.push(lowerHex(forms[1]!), lowerHex(forms[2]!));
  return [...new Set(forms.filter((f) => f.length >= MIN_SECRET_LENGTH || f === secret))];
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const WORD_EDGE_BEFORE = `(?<=^|[\\s"'<>()\\[\\]{}=:,;])`;
const WORD_EDGE_AFTER = `(?=$|[\\s"'<>()\\[\\]{}=:,;.!?])`;

/** Replace every known secret value, in every form, by <redacted>. */
export function scrubSecrets(text: string, secrets: readonly (string | null | undefined)[]): string {
  if (!text) return text;
  const long = new Set<string>();
  const short = new Set<string>();
  for (const s of secrets) {
    if (!s) continue;
    if (s.length < MIN_SECRET_LENGTH) short.add(s);
    else for (const f of secretForms(s)) long.add(f);
  }
  let out = text;
  // Longest first: a form that contains another is replaced whole.
  for (const f of [...long].sort((a, b) => b.length - a.length)) if (out.includes(f)) out = out.split(f).join(REDACTED);
  for (const s of short) out = out.replace(new RegExp(`${WORD_EDGE_BEFORE}${escapeRegExp(s)}${WORD_EDGE_AFTER}`, 'g'), REDACTED);
  return out;
}
