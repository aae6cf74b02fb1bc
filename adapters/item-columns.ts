/**
 * The column form of a page of the hot path's bare `done(i)` events: two arrays of small deltas
 * (time, index) instead of an object per event, about 2 bytes an event instead of 20 once packed.
 * One definition for every adapter that stores pages (LevelDB; the preallocated-log experiment);
 * each packs the object its own way. adapters/level/columns.ts reads LevelDB's packing of it fast.
 */
import type { CkptEvent } from "../core/events.ts";

export interface ItemColumns {
  c: 1;
  at: number[];
  index: number[];
}

const isPlainOk = (e: CkptEvent) =>
  e.type === "item" && e.outcome === "ok" && e.item === undefined && e.batch === undefined &&
  e.cost === undefined && e.error === undefined;

/**
 * The columns of `events`, or undefined when the page is short or holds anything but plain
 * successful items (such a page is stored as its events). Keys in the order c, at, index: the
 * LevelDB reader matches their packed bytes.
 */
export function toColumns(events: readonly CkptEvent[]): ItemColumns | undefined {
  if (events.length < 8 || !events.every(isPlainOk)) return undefined;
  const at: number[] = new Array(events.length);
  const index: number[] = new Array(events.length);
  let lastAt = 0;
  let lastIndex = 0;
  for (let k = 0; k < events.length; k++) {
    const e = events[k] as Extract<CkptEvent, { type: "item" }>;
    at[k] = e.at - lastAt;
    index[k] = e.index - lastIndex;
    lastAt = e.at;
    lastIndex = e.index;
  }
  return { c: 1, at, index };
}

/** The events of unpacked columns; anything else is "unknown page format". */
export function fromColumns(value: unknown): CkptEvent[] {
  const cols = value as ItemColumns | undefined;
  if (cols?.c !== 1 || !Array.isArray(cols.at) || !Array.isArray(cols.index)) {
    throw new Error("unknown page format");
  }
  const out: CkptEvent[] = new Array(cols.at.length);
  let at = 0;
  let index = 0;
  for (let k = 0; k < cols.at.length; k++) {
    at += cols.at[k]!;
    index += cols.index[k]!;
    out[k] = { type: "item", v: 1, at, index, outcome: "ok" };
  }
  return out;
}
