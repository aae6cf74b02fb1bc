/**
 * Wraps an EventLog so tests can make appends fail or go slow on demand: the n-th append rejects
 * with CKPT_IO without writing, and every append can be held back a while (driven, not timed).
 */
import { CkptError, ErrorCode } from "../../core/errors.ts";
import type { EventLog } from "../../core/log.ts";

export interface Faults {
  /** 1-based numbers of the appends that fail (nothing written). */
  failAppends: Set<number>;
  /** Appends so far. */
  appends: number;
  /** Awaited before each append reaches the inner log (e.g. a promise the test resolves). */
  gate?: () => Promise<void>;
}

export function faultyLog(
  inner: EventLog,
  failAppends: Iterable<number> = [],
): { log: EventLog; faults: Faults } {
  const faults: Faults = { failAppends: new Set(failAppends), appends: 0 };
  const log: EventLog = Object.create(inner) as EventLog;
  Object.defineProperties(log, {
    supports: { get: () => inner.supports },
    location: { get: () => inner.location },
    append: {
      value: async (
        stream: string,
        events: Parameters<EventLog["append"]>[1],
        o: Parameters<EventLog["append"]>[2],
      ) => {
        const n = ++faults.appends;
        if (faults.gate) await faults.gate();
        if (faults.failAppends.has(n)) {
          throw new CkptError(ErrorCode.IO, `injected failure of append ${n}`);
        }
        return inner.append(stream, events, o);
      },
    },
  });
  for (
    const k of [
      "read",
      "readBatches",
      "streams",
      "info",
      "saveSnapshot",
      "loadSnapshot",
      "truncateBefore",
      "delete",
      "sizeBytes",
      "close",
    ] as const
  ) {
    const f = (inner as unknown as Record<string, unknown>)[k];
    if (typeof f === "function") {
      Object.defineProperty(log, k, { value: (f as (...a: unknown[]) => unknown).bind(inner) });
    }
  }
  return { log, faults };
}
