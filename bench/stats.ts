/**
 * Small statistics over per-round figures: medians with min–max, percentiles, ratios taken round by
 * round.
 */

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** One figure per round, in round order. */
  rounds: number[];
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function spread(rounds: readonly number[]): Spread {
  return {
    median: median(rounds),
    min: Math.min(...rounds),
    max: Math.max(...rounds),
    rounds: [...rounds],
  };
}

/** The q-quantile (0..1) of `xs`, sorting a copy; nearest-rank, so p99 is a value actually seen. */
export function percentile(xs: ArrayLike<number>, q: number, length = xs.length): number {
  if (length === 0) return NaN;
  const s = Float64Array.from({ length }, (_, i) => xs[i]!).sort();
  return s[Math.min(length - 1, Math.max(0, Math.ceil(q * length) - 1))]!;
}

/**
 * Ratios a[r] / b[r] per round: both sides ran back to back in the same round, so drift cancels.
 */
export function ratios(a: readonly number[], b: readonly number[]): Spread {
  return spread(a.map((x, r) => x / b[r]!));
}
