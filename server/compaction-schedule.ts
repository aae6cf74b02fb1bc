/**
 * The --compact-every timer: runs the Compactor with one fixed policy at a fixed rate until
 * stopped.
 */
import { type Clock, systemClock } from "../core/clock.ts";
import type { RetentionPolicy } from "../core/retention.ts";
import type { CompactionNotice } from "./compaction-notice.ts";
import type { Compactor } from "./compactor.ts";

export interface CompactionSchedule {
  readonly everyMs: number;
  readonly policy: RetentionPolicy;
}

export interface ScheduleHandle {
  /** Clears the timer and waits for a scheduled compaction in flight. */
  stop(): Promise<void>;
}

/**
 * setTimeout fires at once past this many ms (a signed 32-bit delay); longer waits are re-armed in
 * steps.
 */
const MAX_DELAY = 2 ** 31 - 1;

/**
 * Ticks at start + k·everyMs, the first one interval after start. A tick that finds a compaction
 * under way (a long scheduled one, or an admin's POST /v1/compact) is skipped rather than queued,
 * so compactions never pile up behind each other.
 */
export function scheduleCompaction(
  compactor: Compactor,
  s: CompactionSchedule,
  notify: (n: CompactionNotice) => void,
  clock: Clock = systemClock,
): ScheduleHandle {
  let nextAt = clock.now() + s.everyMs;
  let timer: unknown;
  let current: Promise<void> | undefined;
  let stopped = false;

  const arm = () => {
    if (stopped) return;
    const now = clock.now();
    while (nextAt <= now) nextAt += s.everyMs; // slots missed while compacting are skipped, not made up
    timer = clock.setTimeout(fire, Math.min(nextAt - now, MAX_DELAY));
    // The listener keeps the process alive; a pending compaction alone must not.
    (timer as { unref?: () => void }).unref?.();
  };

  const fire = () => {
    timer = undefined;
    if (stopped) return;
    if (clock.now() < nextAt) return arm(); // a long interval's intermediate step
    if (compactor.busy) {
      notify({
        kind: "skipped",
        trigger: "schedule",
        reason: "another compaction is still running",
      });
      return arm();
    }
    // The Compactor reports success and failure itself; a failure waits for the next tick.
    current = compactor.run(s.policy, "schedule").then(
      () => undefined,
      () => undefined,
    );
    void current.finally(() => {
      current = undefined;
      arm();
    });
  };

  arm();
  return {
    async stop() {
      stopped = true;
      if (timer !== undefined) clock.clear(timer);
      timer = undefined;
      await current;
    },
  };
}
