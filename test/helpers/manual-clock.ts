/**
 * A Clock whose time moves only when the test says so: `advance(ms)` runs every timer that falls
 * due, in order.
 */
import type { Clock } from "../../core/clock.ts";

export interface ManualClock extends Clock {
  advance(ms: number): void;
  /**
   * Timers set and not yet run or cleared: a test waits for its subject to be waiting before it
   * advances.
   */
  pending(): number;
}

export function manualClock(start = 1_700_000_000_000): ManualClock {
  let now = start;
  let seq = 0;
  const timers = new Map<number, { due: number; every: number | null; fn: () => void }>();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      timers.set(++seq, { due: now + Math.max(0, ms), every: null, fn });
      return seq;
    },
    setInterval(fn, ms) {
      timers.set(++seq, { due: now + Math.max(1, ms), every: Math.max(1, ms), fn });
      return seq;
    },
    clear(h) {
      timers.delete(h as number);
    },
    pending: () => timers.size,
    advance(ms) {
      const until = now + ms;
      for (;;) {
        let next: [number, { due: number; every: number | null; fn: () => void }] | undefined;
        for (const t of timers) {
          if (t[1].due <= until && (!next || t[1].due < next[1].due)) next = t;
        }
        if (!next) break;
        const [id, t] = next;
        now = t.due;
        if (t.every === null) timers.delete(id);
        else t.due += t.every;
        t.fn();
      }
      now = until;
    },
  };
}
