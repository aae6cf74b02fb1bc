/**
 * The one retry loop: how many tries, how long to wait between them (capped exponential backoff
 * with full jitter, so many workers that failed together do not come back in lockstep), and which
 * failures are worth another try. Every adapter and the writer retry through here, so a fix to
 * backoff or to giving up is made once.
 */
import { type Clock, systemClock } from "./clock.ts";

export interface Backoff {
  /** Ceiling of the first wait, in ms (the wait is uniform in [0, ceiling)). */
  firstMs: number;
  /** The ceiling stops doubling here. */
  maxMs: number;
  /** No wait is shorter than this (a zero wait would spin against a busy peer). Default 0. */
  minMs?: number;
}

/** The sidecar client's and the adapters' default: 50 ms doubling to 2 s. */
export const DEFAULT_BACKOFF: Backoff = { firstMs: 50, maxMs: 2_000, minMs: 5 };

/**
 * Milliseconds to wait before try `attempt + 1` (attempt counts from 0): full jitter over a
 * doubling ceiling.
 */
export function backoffDelay(
  attempt: number,
  b: Backoff = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(b.firstMs * 2 ** Math.min(Math.max(attempt, 0), 30), b.maxMs);
  return Math.max(b.minMs ?? 0, Math.floor(random() * ceiling));
}

export interface RetryOptions {
  /**
   * Whether the failure of try `attempt` (from 0) deserves another. Throwing from here ends the
   * loop with that error.
   */
  retryable(err: unknown, attempt: number): boolean;
  /** Most tries in all (default: unbounded, so `retryable` or `forMs` must end it). */
  attempts?: number;
  /** Give up once this long has passed since the first try (measured on `clock`). */
  forMs?: number;
  /**
   * Waits between tries; `false` retries at once (for conflicts resolved by re-reading, not by
   * waiting).
   */
  backoff?: Backoff | false;
  /**
   * The wait before the next try when the failure itself says how long (a server's Retry-After);
   * undefined: the backoff.
   */
  delay?(err: unknown, attempt: number): number | undefined;
  /** Runs before each wait: re-read state, log, count. */
  onRetry?(err: unknown, attempt: number): void | Promise<void>;
  clock?: Clock;
  random?: () => number;
}

/**
 * Runs `fn(attempt)` until it resolves, or rethrows the last failure once it is not retryable or
 * the budget is spent.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, o: RetryOptions): Promise<T> {
  const clock = o.clock ?? systemClock;
  const started = clock.now();
  for (let attempt = 0;; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (o.attempts !== undefined && attempt + 1 >= o.attempts) throw err;
      if (!o.retryable(err, attempt)) throw err;
      const wait = o.delay?.(err, attempt) ??
        (o.backoff === false ? 0 : backoffDelay(attempt, o.backoff ?? DEFAULT_BACKOFF, o.random));
      if (o.forMs !== undefined && clock.now() - started + wait > o.forMs) throw err;
      await o.onRetry?.(err, attempt);
      if (wait > 0) await new Promise<void>((resolve) => clock.setTimeout(resolve, wait));
    }
  }
}
