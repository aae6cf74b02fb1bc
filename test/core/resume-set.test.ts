/** The done-set against a plain Set model, for random out-of-order adds and removes. */
import fc from "fast-check";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  add,
  emptyDoneSet,
  has,
  indices,
  missing,
  rangeCount,
  remove,
  size,
  wouldAddRange,
} from "../../core/resume-set.ts";

function invariant(s: ReturnType<typeof emptyDoneSet>): void {
  const r = s.ranges;
  assert.is(r.length % 2, 0);
  for (let k = 0; k < r.length; k += 2) {
    assert.ok(r[k]! < r[k + 1]!, "ranges are non-empty");
    assert.ok(r[k]! > s.watermark, "ranges start above the watermark (never adjacent to it)");
    if (k > 0) assert.ok(r[k]! > r[k - 1]!, "ranges are sorted, apart and not adjacent");
  }
}

test("matches a Set for any sequence of adds and removes", () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(60)), { maxLength: 300 }), (ops) => {
      const s = emptyDoneSet();
      const model = new Set<number>();
      for (const [isAdd, i] of ops) {
        if (isAdd) {
          const wouldAdd = wouldAddRange(s, i) && !model.has(i);
          const before = rangeCount(s);
          assert.is(add(s, i), !model.has(i));
          model.add(i);
          if (wouldAdd) assert.is(rangeCount(s), before + 1);
          // Not a new range: a duplicate, or an index that extends or joins ranges (never more of
          // them).
          else {assert.ok(
              rangeCount(s) <= before,
              `adding ${i} grew ${before} ranges to ${rangeCount(s)}`,
            );}
        } else {
          assert.is(remove(s, i), model.has(i));
          model.delete(i);
        }
        invariant(s);
      }
      for (let i = 0; i <= 62; i++) assert.is(has(s, i), model.has(i), `has(${i})`);
      assert.is(size(s), model.size);
      assert.equal([...indices(s)], [...model].sort((a, b) => a - b));
      assert.equal(
        [...missing(s, 62)],
        Array.from({ length: 62 }, (_, i) => i).filter((i) => !model.has(i)),
      );
    }),
    { numRuns: 500 },
  );
});

test("in-order adds keep no ranges at all", () => {
  const s = emptyDoneSet();
  for (let i = 0; i < 100_000; i++) add(s, i);
  assert.equal(s, { watermark: 100_000, ranges: [] });
});

test("10 million done with 10,000 in flight stays under a megabyte", () => {
  const s = emptyDoneSet();
  // Every 1,000th index is still in flight: 10,000 gaps.
  for (let i = 0; i < 10_000_000; i++) if (i % 1000 !== 0) add(s, i);
  assert.is(size(s), 10_000_000 - 10_000);
  assert.is(rangeCount(s), 10_000);
  const bytes = JSON.stringify(s).length;
  assert.ok(bytes < 1_000_000, `state is ${bytes} bytes`);
});

test.run();
