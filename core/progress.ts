/**
 * Derived figures (rates, ETA, staleness) computed from a state at a given moment, never stored.
 */
import type { StageState } from "./state.ts";

export interface ProgressFigures {
  done: number;
  total: number | null;
  /** 0–100, or null without a total. */
  percent: number | null;
  /** successful / (successful + failed), or null before any outcome. */
  successRate: number | null;
  /** Items per second in the current (or last) run. */
  throughput: number | null;
  /** Seconds left at the current throughput, or null when unknown. */
  etaSeconds: number | null;
  /** Milliseconds since the last event. */
  idleMs: number | null;
  /** A running stage silent for longer than `staleAfterMs`: its process is probably gone. */
  stale: boolean;
}

export const DEFAULT_STALE_AFTER_MS = 5 * 60_000;

export function progressOf(
  s: StageState,
  now: number,
  staleAfterMs = DEFAULT_STALE_AFTER_MS,
): ProgressFigures {
  const done = s.counters.processed;
  const total = s.total;
  const decided = s.counters.successful + s.counters.failed;
  let throughput: number | null = null;
  if (s.run && s.updatedAt !== null) {
    const secs = (s.updatedAt - s.run.startedAt) / 1000;
    const items = done - s.run.processedAtStart;
    if (secs > 0 && items > 0) throughput = items / secs;
  }
  const left = total === null ? null : Math.max(0, total - done);
  const idleMs = s.updatedAt === null ? null : Math.max(0, now - s.updatedAt);
  return {
    done,
    total,
    percent: total ? Math.min(100, (done / total) * 100) : total === 0 ? 100 : null,
    successRate: decided > 0 ? s.counters.successful / decided : null,
    throughput,
    etaSeconds: left === null ? null : left === 0 ? 0 : throughput ? left / throughput : null,
    idleMs,
    stale: (s.status === "running" || s.status === "recovering") && idleMs !== null &&
      idleMs > staleAfterMs,
  };
}
