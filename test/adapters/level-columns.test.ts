/**
 * The fast column-page reader (adapters/level/columns.ts) against msgpackr on the same bytes: it
 * must read every column page exactly as msgpackr does, or step aside (undefined) so msgpackr reads
 * it; and reads through the adapter hand a big column page out in slices, from any revision.
 */
import fc from "fast-check";
import { Packr, Unpackr } from "msgpackr";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { levelLog } from "../../adapters/level.ts";
import { readColumns, recordsOfColumns } from "../../adapters/level/columns.ts";
import type { RecordedEvent } from "../../core/log.ts";
import { item } from "../contract/index.ts";
import { tempDir } from "../helpers/tmp.ts";

const pack = (v: unknown) => new Packr({ useRecords: true, sequential: true }).pack(v);
const unpack = (b: Uint8Array) => new Unpackr({ useRecords: true, sequential: true }).unpack(b);

/** What msgpackr and decodePage make of a column page: absolute at and index, summed from 0. */
function viaMsgpackr(bytes: Uint8Array): { at: number[]; index: number[] } {
  const v = unpack(bytes) as { at: number[]; index: number[] };
  let a = 0;
  let i = 0;
  return { at: v.at.map((d) => (a += d)), index: v.index.map((d) => (i += d)) };
}

// Every encoding msgpack has for a number: fixints, 8/16/32/64-bit ints either sign, float64 and
// float32.
const delta = fc.oneof(
  fc.integer({ min: -32, max: 127 }),
  fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }),
  fc.maxSafeInteger(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(-0, 0.5, 2 ** 40, -(2 ** 40), 1733000000123),
);

test("column pages read exactly as msgpackr reads them, or not at all", () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(delta, delta), { maxLength: 300 }), (pairs) => {
      const bytes = pack({ c: 1, at: pairs.map((p) => p[0]), index: pairs.map((p) => p[1]) });
      const cols = readColumns(bytes);
      if (!cols) return; // stepped aside: msgpackr reads it
      const want = viaMsgpackr(bytes);
      assert.equal([...cols.at], want.at);
      assert.equal([...cols.index], want.index);
      assert.ok(cols.at.every((x, k) => Object.is(x, want.at[k])), "same to the sign of zero");
    }),
    { numRuns: 300 },
  );
});

test("plain small deltas, the hot path's pages, are read by the fast reader", () => {
  const at = Array.from({ length: 70_000 }, (_, k) => (k === 0 ? 1733000000000 : k % 7));
  const index = Array.from({ length: 70_000 }, (_, k) => (k % 100 === 0 ? -300 : 1));
  const bytes = pack({ c: 1, at, index });
  const cols = readColumns(bytes);
  assert.ok(cols, "the fast reader took the page");
  assert.equal([...cols.at], viaMsgpackr(bytes).at);
  assert.equal([...cols.index], viaMsgpackr(bytes).index);
  const slice = recordsOfColumns(cols, 1000, 5, 8);
  assert.equal(slice.map((r) => r.revision), [1005, 1006, 1007]);
  assert.equal(slice[0]!.event, {
    type: "item",
    v: 1,
    at: cols.at[5]!,
    index: cols.index[5]!,
    outcome: "ok",
  });
});

test("anything but a whole column page is left to msgpackr", () => {
  const good = pack({ c: 1, at: [1, 2, 3], index: [4, 5, 6] });
  assert.ok(readColumns(good));
  for (let cut = 0; cut < good.length; cut++) {
    assert.is(readColumns(good.subarray(0, cut)), undefined, `cut at ${cut}`);
  }
  assert.is(readColumns(new Uint8Array([...good, 0])), undefined, "trailing byte");
  assert.is(
    readColumns(pack({ c: 1, at: [1, 2], index: [1, 2, 3] })),
    undefined,
    "columns of unequal length",
  );
  assert.is(readColumns(pack({ c: 2, at: [1], index: [1] })), undefined, "another page version");
  assert.is(
    readColumns(pack([{ type: "item", v: 1, at: 1, index: 0, outcome: "ok" }])),
    undefined,
    "a page of event objects",
  );
  assert.is(readColumns(pack({ c: 1, at: ["1"], index: [1] })), undefined, "a string in a column");
  const huge = new Uint8Array([...good.subarray(0, 16), 0xdd, 0xff, 0xff, 0xff, 0xff, 1, 0x91, 1]);
  assert.is(
    readColumns(huge),
    undefined,
    "a count of 2^32 - 1 over 3 bytes (damage) allocates nothing",
  );
});

test("a read hands a big column page out in slices of at most 256, from any revision", async () => {
  const dir = await tempDir();
  const log = await levelLog(dir.path);
  try {
    const events = Array.from({ length: 1000 }, (_, k) => item(k));
    const last = item(5000, { item: "u" });
    await log.append("s", events, { expectedRevision: "no_stream" });
    await log.append("s", [last], { expectedRevision: 999 });
    for (const from of [0, 1, 255, 256, 300, 999, 1000]) {
      const batches: RecordedEvent[][] = [];
      for await (const b of log.readBatches!("s", { from })) batches.push(b);
      assert.ok(batches.every((b) => b.length > 0 && b.length <= 256), `slices from ${from}`);
      const flat = batches.flat();
      assert.equal(
        flat.map((r) => r.revision),
        Array.from({ length: 1001 - from }, (_, k) => from + k),
      );
      assert.equal(flat.map((r) => r.event), [...events, last].slice(from));
    }
  } finally {
    await log.close();
    await dir.remove();
  }
});

test.run();
