// Pure delivery decisions: what an HTTP outcome means, and when to try again.
export type Outcome = 'delivered' | 'retry' | 'permanent';

export function classifyResponse(status: number | null): Outcome {
  if (status === null) return 'retry'; // network error, timeout
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 429 || status === 408 || status >= 500) return 'retry';
  return 'permanent'; // other 4xx, and 3xx we do not follow
}

/** Retry-After as seconds or an HTTP date → milliseconds from now (null if absent/invalid). */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (!header) return null;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const t = Date.parse(header);
  return Number.isNaN(t) ? null : Math.max(0, t - now);
}

/** Exponential backoff with jitter, bounded; the server's Retry-After wins when longer (capped). */
export function nextDelayMs(attempt: number, cfg: { initialBackoffMs: number; maxBackoffMs: number }, retryAfter: number | null, random = Math.random): number {
  const ceiling = Math.min(cfg.maxBackoffMs, cfg.initialBackoffMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.round(ceiling / 2 + random() * (ceiling / 2));
  return retryAfter !== null ? Math.min(Math.max(jittered, retryAfter), Math.max(cfg.maxBackoffMs, retryAfter > 86_400_000 ? 86_400_000 : retryAfter)) : jittered;
}

/**
 * Where a redirect may be followed: the same host and the same protocol only (a redirect to another
 * host could send the signed body to whoever controls a Location header; one from https to http
 * would send it in clear). null = not followed: the 3xx counts as a permanent failure.
 */
export function redirectTarget(from: URL, location: string | null): URL | null {
  if (!location) return null;
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    return null;
  }
  return next.protocol === from.protocol && next.host === from.host ? next : null;
}
