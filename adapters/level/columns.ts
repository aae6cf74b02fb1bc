/**
 * The fast read of a column page (the hot path's bare `done(i)` events, adapters/item-columns.ts,
 * packed by encodePage in adapters/level.ts): its bytes are always one msgpackr record `{ c: 1, at: [...], index: [...] }`
 * of small integer deltas, so reading the two arrays straight from the bytes skips msgpackr's
 * generic reader and the two intermediate arrays (replay spent more time there than in LevelDB).
 * Anything this reader does not expect, byte for byte, returns undefined and the caller decodes the
 * page with msgpackr as before: it is an optimisation, never a second format.
 */
import type { CkptEvent } from "../../core/events.ts";
import type { RecordedEvent } from "../../core/log.ts";

/** msgpackr's record (fixext1 'r', id 0x40) defining the keys c, at, index, then c's value 1. */
const PREFIX = [
  0xd4,
  0x72,
  0x40,
  0x93,
  0xa1,
  0x63,
  0xa2,
  0x61,
  0x74,
  0xa5,
  0x69,
  0x6e,
  0x64,
  0x65,
  0x78,
  0x01,
];

/**
 * The position just past an array header at `p` and its length, or undefined when `p` holds no
 * array header.
 */
function arrayHeader(b: Uint8Array, p: number): [number, number] | undefined {
  const t = b[p];
  if (t === undefined) return undefined;
  if (t >= 0x90 && t <= 0x9f) return [p + 1, t & 0x0f];
  if (t === 0xdc && p + 3 <= b.length) return [p + 3, (b[p + 1]! << 8) | b[p + 2]!];
  if (t === 0xdd && p + 5 <= b.length) {
    return [p + 5, ((b[p + 1]! << 24) | (b[p + 2]! << 16) | (b[p + 3]! << 8) | b[p + 4]!) >>> 0];
  }
  return undefined;
}

/**
 * Reads `n` msgpack numbers from `p` into `out` (integers of up to 32 bits and doubles, the
 * encodings msgpackr uses for them); the position after them, or -1 at anything else.
 */
function readNumbers(b: Uint8Array, p: number, n: number, out: Float64Array): number {
  const end = b.length;
  for (let k = 0; k < n; k++) {
    if (p >= end) return -1;
    const t = b[p]!;
    if (t < 0x80) {
      out[k] = t;
      p += 1;
    } else if (t >= 0xe0) {
      out[k] = t - 0x100;
      p += 1;
    } else if (t === 0xcc || t === 0xd0) {
      if (p + 2 > end) return -1;
      const v = b[p + 1]!;
      out[k] = t === 0xcc ? v : (v << 24) >> 24;
      p += 2;
    } else if (t === 0xcd || t === 0xd1) {
      if (p + 3 > end) return -1;
      const v = (b[p + 1]! << 8) | b[p + 2]!;
      out[k] = t === 0xcd ? v : (v << 16) >> 16;
      p += 3;
    } else if (t === 0xce || t === 0xd2) {
      if (p + 5 > end) return -1;
      const v = (b[p + 1]! << 24) | (b[p + 2]! << 16) | (b[p + 3]! << 8) | b[p + 4]!;
      out[k] = t === 0xce ? v >>> 0 : v;
      p += 5;
    } else if (t === 0xcb) {
      if (p + 9 > end) return -1;
      // Rare (a delta that is not an integer): a view per number costs nothing that matters.
      out[k] = new DataView(b.buffer, b.byteOffset + p + 1, 8).getFloat64(0);
      p += 9;
    } else return -1;
  }
  return p;
}

/** A column page read: absolute `at` and `index` of each event, as numbers (the deltas summed). */
export interface Columns {
  at: Float64Array;
  index: Float64Array;
}

/**
 * The columns of a column page, or undefined when `payload` is not one this reader knows (decode it
 * the general way then).
 */
export function readColumns(payload: Uint8Array): Columns | undefined {
  const b = payload;
  if (b.length < PREFIX.length + 2) return undefined;
  for (let i = 0; i < PREFIX.length; i++) if (b[i] !== PREFIX[i]) return undefined;
  const a = arrayHeader(b, PREFIX.length);
  if (!a) return undefined;
  const n = a[1];
  // Every number takes a byte at least: a longer count is damage, and must not size an allocation.
  if (2 * n > b.length - a[0]) return undefined;
  const at = new Float64Array(n);
  const index = new Float64Array(n);
  let p = readNumbers(b, a[0], n, at);
  if (p < 0) return undefined;
  const ix = arrayHeader(b, p);
  if (!ix || ix[1] !== n) return undefined;
  p = readNumbers(b, ix[0], n, index);
  if (p !== b.length) return undefined;
  // Summed in the order decodePage sums them, so the numbers are the same to the last bit.
  if (n > 0) (at[0] = 0 + at[0]!), (index[0] = 0 + index[0]!);
  for (let k = 1; k < n; k++) (at[k] = at[k - 1]! + at[k]!), (index[k] = index[k - 1]! + index[k]!);
  return { at, index };
}

/**
 * Events `from` to `to` (exclusive) of a column page as records numbered from `first`: made a slice
 * at a time so a page of 20,000 events never lives as 40,000 objects at once (they would outlive
 * the young generation).
 */
export function recordsOfColumns(
  c: Columns,
  first: number,
  from: number,
  to: number,
): RecordedEvent[] {
  const out: RecordedEvent[] = new Array(to - from);
  const at = c.at;
  const index = c.index;
  for (let k = from; k < to; k++) {
    const event: CkptEvent = { type: "item", v: 1, at: at[k]!, index: index[k]!, outcome: "ok" };
    out[k - from] = { revision: first + k, event };
  }
  return out;
}
