// The secret values each mailbox used lately (password, OAuth2 client secret, refresh and access
// tokens), recorded where they are read (credentials.ts, the token cache), so that the error
// classifiers (inbound/errors.ts, outbound/errors.ts) can strip them from whatever a server
// answered: they hold the mailbox id, not the values. In memory only; a few values per mailbox
// (the newest), so a rotated password or an hourly access token does not pile up.
const MAX_PER_MAILBOX = 12;

const known = new Map<string, string[]>();

/** Record values a mailbox logs in with (empty and missing ones are ignored). */
export function rememberSecrets(mailbox: string, ...values: (string | null | undefined)[]): void {
  const fresh = values.filter((v): v is string => typeof v === 'string' && v.length > 0);
  if (fresh.length === 0) return;
  const list = (known.get(mailbox) ?? []).filter((v) => !fresh.includes(v));
  list.push(...fresh);
  known.set(mailbox, list.slice(-MAX_PER_MAILBOX));
}

/** The values recorded for a mailbox (possibly none yet). */
export function secretsOf(mailbox: string): string[] {
  return known.get(mailbox) ?? [];
}
