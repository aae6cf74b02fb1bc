/**
 * The resume point's set of done indices: a contiguous watermark ("every index below it is done")
 * plus the indices done beyond it, kept as sorted half-open ranges in one flat array
 * `[start0, end0, start1, end1, …]`. Out-of-order finishes cost one range each until the gap
 * below them fills, so state stays small however many items are done.
 */

export interface DoneSet {
  watermark: number;
  /** Flat sorted pairs [start, end), every start > watermark, never adjacent or overlapping. */
  ranges: number[];
}

export function emptyDoneSet(): DoneSet {
  return { watermark: 0, ranges: [] };
}

/** Index of the first pair whose end is > i (pair index, i.e. position/2). */
function firstEndAbove(r: number[], i: number): number {
  let lo = 0;
  let hi = r.length >> 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (r[2 * mid + 1]! > i) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export function has(s: DoneSet, i: number): boolean {
  if (i < s.watermark) return true;
  const p = firstEndAbove(s.ranges, i);
  return p < s.ranges.length >> 1 && s.ranges[2 * p]! <= i;
}

/** Would adding `i` create a new range (rather than extend or fill one)? */
export function wouldAddRange(s: DoneSet, i: number): boolean {
  if (i <= s.watermark) return false;
  const r = s.ranges;
  const p = firstEndAbove(r, i - 1); // first pair with end >= i
  if (p < r.length >> 1 && r[2 * p]! <= i + 1) return false; // touches or contains
  return true;
}

/** Adds `i` in place. Returns false when it was already there. */
export function add(s: DoneSet, i: number): boolean {
  const r = s.ranges;
  if (i < s.watermark) return false;
  if (i === s.watermark) {
    s.watermark++;
    if (r.length > 0 && r[0] === s.watermark) {
      s.watermark = r[1]!;
      r.splice(0, 2);
    }
    return true;
  }
  const p = firstEndAbove(r, i - 1); // first pair with end >= i, i.e. that contains i or touches it from below
  const n = r.length >> 1;
  if (p < n) {
    const start = r[2 * p]!;
    const end = r[2 * p + 1]!;
    if (start <= i && i < end) return false;
    if (end === i) {
      // extends pair p upwards; maybe joins pair p+1
      if (p + 1 < n && r[2 * p + 2] === i + 1) {
        r[2 * p + 1] = r[2 * p + 3]!;
        r.splice(2 * p + 2, 2);
      } else r[2 * p + 1] = i + 1;
      return true;
    }
    if (start === i + 1) {
      r[2 * p] = i;
      return true;
    }
  }
  r.splice(2 * p, 0, i, i + 1);
  return true;
}

/** Removes `i` in place (an item reopened for redo). Returns false when it was not there. */
export function remove(s: DoneSet, i: number): boolean {
  const r = s.ranges;
  if (i < s.watermark) {
    if (i + 1 < s.watermark) r.unshift(i + 1, s.watermark);
    s.watermark = i;
    return true;
  }
  const p = firstEndAbove(r, i);
  if (p >= r.length >> 1) return false;
  const start = r[2 * p]!;
  const end = r[2 * p + 1]!;
  if (i < start) return false;
  if (start === i && end === i + 1) r.splice(2 * p, 2);
  else if (start === i) r[2 * p] = i + 1;
  else if (end === i + 1) r[2 * p + 1] = i;
  else r.splice(2 * p + 1, 0, i, i + 1);
  return true;
}

/** How many indices are in the set. */
export function size(s: DoneSet): number {
  let n = s.watermark;
  for (let k = 0; k < s.ranges.length; k += 2) n += s.ranges[k + 1]! - s.ranges[k]!;
  return n;
}

/** Number of ranges beyond the watermark (the set's memory cost). */
export function rangeCount(s: DoneSet): number {
  return s.ranges.length >> 1;
}

/** Every index in the set, ascending. */
export function* indices(s: DoneSet): Generator<number> {
  for (let i = 0; i < s.watermark; i++) yield i;
  for (let k = 0; k < s.ranges.length; k += 2) {
    for (let i = s.ranges[k]!; i < s.ranges[k + 1]!; i++) {
      yield i;
    }
  }
}

/** Indices below `limit` that are not in the set, ascending: the work still to do. */
export function* missing(s: DoneSet, limit: number): Generator<number> {
  let i = s.watermark;
  for (let k = 0; k < s.ranges.length && i < limit; k += 2) {
    for (; i < Math.min(s.ranges[k]!, limit); i++) yield i;
    i = s.ranges[k + 1]!;
  }
  for (; i < limit; i++) yield i;
}
