// Medians for the benchmarks, which repeat their runs on noisy shared machines and report the middle.

/** The middle element of the sorted values (the upper middle one for an even count); NaN when empty. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1] ?? NaN;
}

/** The element whose key is the median, chosen as median() chooses: a whole result, so its other figures belong to the same run. */
export function medianBy<T>(xs: readonly T[], key: (x: T) => number): T {
  const s = [...xs].sort((a, b) => key(a) - key(b));
  return s[s.length >> 1]!;
}
