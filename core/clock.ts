/**
 * Time as core sees it: the wall clock and timers, injectable so tests drive time instead of
 * sleeping (`manualClock()` in test/helpers). Every timestamp an event carries comes from here.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` after `ms`; the handle is for `clear` (and `unref`, where the runtime has it). */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Calls `fn` every `ms` until cleared. */
  setInterval(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/** The real clock: Date.now and the runtime's timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  setInterval: (fn, ms) => setInterval(fn, ms),
  // Typed through the clear functions' own parameters: Node's and Deno's checkers disagree on the
  // handle type.
  clear: (h) => {
    clearTimeout(h as Parameters<typeof clearTimeout>[0]);
    clearInterval(h as Parameters<typeof clearInterval>[0]);
  },
};
