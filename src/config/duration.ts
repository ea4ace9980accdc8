// Parsing of the human units the config uses: durations (`30s`) and sizes (`25MB`).
const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_BYTES: Record<string, number> = { B: 1, KB: 1024, KiB: 1024, MB: 1024 ** 2, MiB: 1024 ** 2, GB: 1024 ** 3, GiB: 1024 ** 3 };

export function parseDuration(value: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)$/.exec(value.trim());
  if (!m) throw new Error(`not a duration: ${value}`);
  return Math.round(Number(m[1]) * (DURATION_MS[m[2]!] ?? 1));
}

export function parseSize(value: string | number): number {
  if (typeof value === 'number') return value;
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)$/.exec(value.trim());
  if (!m) throw new Error(`not a size: ${value}`);
  return Math.round(Number(m[1]) * (SIZE_BYTES[m[2]!] ?? 1));
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
