// Records keyed by ids (mailboxes, companies, contracts, webhooks, workflows) are looked up with ids
// that come from outside: an API path, a request body. A plain object answers `__proto__`,
// `constructor` or `toString` with Object.prototype's members, so these records have no prototype,
// and lookups through `own` see only a record's own keys (for objects made elsewhere too).

/** A prototype-less record from entries (Object.fromEntries without Object.prototype). */
export function idMap<T>(entries: Iterable<readonly [string, T]> = []): Record<string, T> {
  const out = Object.create(null) as Record<string, T>;
  for (const [k, v] of entries) out[k] = v;
  return out;
}

/** `rec[id]` if `id` is one of rec's own keys, else undefined (never an inherited member). */
export function own<T>(rec: Readonly<Record<string, T>> | null | undefined, id: string): T | undefined {
  return rec != null && Object.hasOwn(rec, id) ? rec[id] : undefined;
}
