// Exponential backoff with full jitter, seconds up to minutes (pure; random injected for tests).
export interface BackoffOptions {
  baseMs?: number;
  maxMs?: number;
}

export function backoffDelay(attempt: number, opts: BackoffOptions = {}, random: () => number = Math.random): number {
  const base = opts.baseMs ?? 2_000;
  const max = opts.maxMs ?? 300_000;
  const ceiling = Math.min(max, base * 2 ** Math.max(0, attempt - 1));
  // "Equal jitter": at least half the ceiling, so a failing server is never hammered.
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
