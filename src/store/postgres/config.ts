// Why this file exists: what openPostgresStores needs (the URL already read from its secret source),
// the rules for a schema name, and the one way a PostgreSQL URL is shown: with its password masked.
// No I/O, so the config resolver and the store can both import it.

export interface PostgresStoreConfig {
  /** postgres://user:password@host:port/db?sslmode=... (revealed: never log it, see redactUrl) */
  url: string;
  /** Schema holding mailroom's tables (default `mailroom`). */
  schema?: string;
  /** Pool size per replica (default 10). */
  poolMax?: number;
  /** TLS beyond the URL's sslmode: a CA file (PEM) and whether to verify the server's certificate. */
  ssl?: { ca?: string; rejectUnauthorized?: boolean } | null;
  /**
   * idle_in_transaction_session_timeout of every connection (default 7.5 s: half the default lease
   * TTL). A replica paused (SIGSTOP, GC, a partition) inside a transaction holds its row locks (the
   * lease row FOR SHARE, the ticket counter): without this the others' renewals and commits wait on
   * them until it resumes; with it PostgreSQL ends its session and rolls its transaction back.
   */
  idleInTransactionTimeoutMs?: number;
  /** application_name shown in pg_stat_activity (default `mailroom`). */
  applicationName?: string;
  /** Called with the text of every statement sent (tests and benchmarks count them). */
  onStatement?: (text: string) => void;
}

export const DEFAULT_SCHEMA = 'mailroom';
export const DEFAULT_POOL_MAX = 10;
export const DEFAULT_IDLE_IN_TRANSACTION_MS = 7_500;

/** Lower-case identifier PostgreSQL needs no quotes for (so it is safe to splice into DDL). */
export const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;

export function checkSchemaName(schema: string): string {
  if (!SCHEMA_RE.test(schema)) throw new Error(`store.schema ${JSON.stringify(schema)} must match ${SCHEMA_RE} (a lower-case identifier)`);
  return schema;
}

/** The URL with its password masked: postgres://user:***@host/db. Unparseable → a placeholder. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const k of [...u.searchParams.keys()]) if (/pass/i.test(k)) u.searchParams.set(k, '***');
    return u.toString();
  } catch {
    return '<unparseable postgres url>';
  }
}

/** Remove every occurrence of the URL's password from a message (a driver error may echo the URL). */
export function scrubSecret(message: string, url: string): string {
  let password = '';
  try {
    password = decodeURIComponent(new URL(url).password);
  } catch {
    return message.split(url).join('<postgres url>');
  }
  let out = message.split(url).join(redactUrl(url));
  if (password) out = out.split(password).join('***').split(encodeURIComponent(password)).join('***');
  return out;
}
