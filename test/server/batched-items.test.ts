/**
 * A request of many bare item updates (the shape a batching worker sends) is recorded as one update
 * per request would be, but waited for together (server/runs.ts recordItems): answered only once
 * every item in it is durable, items that must wait for room included; an item that never gets room
 * is refused on its own while the rest are recorded.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { RecordedEvent } from "../../core/log.ts";
import { json, type Sidecar, sidecar } from "./helpers.ts";

async function begin(s: Sidecar, stage: string): Promise<string> {
  const res = await fetch(`${s.url}/v1/stages/${stage}/runs`, json("POST", { leaseMs: 600_000 }));
  assert.is(res.status, 201, await res.clone().text());
  return ((await res.json()) as { runId: string }).runId;
}

const post = (s: Sidecar, stage: string, runId: string, indices: number[]) =>
  fetch(
    `${s.url}/v1/stages/${stage}/runs/${runId}/updates`,
    json("POST", { updates: indices.map((index) => ({ type: "item", index })) }),
  );

/** Item indices in the LevelDB log itself (what is durable), in log order. */
async function durableItems(s: Sidecar, stage: string): Promise<number[]> {
  const out: number[] = [];
  for await (const r of s.inner.read(stage) as AsyncIterable<RecordedEvent>) {
    if (r.event.type === "item") out.push(r.event.index);
  }
  return out;
}

test("a batch with items too far out of order is answered once every item in it is durable", async () => {
  const s = await sidecar({ serve: true, store: { maxRanges: 2, sparseTimeoutMs: 10_000 } });
  try {
    const runId = await begin(s, "sparse");
    // 5 and 10 open two ranges beyond the watermark; 15 would open a third, so it waits for room
    // until 0–9 close the gaps (written in this same request), and is queued after them.
    const batch = [5, 10, 15, 0, 1, 2, 3, 4, 6, 7, 8, 9, 11, 12, 13, 14];
    for (let round = 0; round < 3; round++) {
      const stage = `sparse-${round}`;
      const id = round === 0 ? runId : await begin(s, stage);
      const res = await post(s, round === 0 ? "sparse" : stage, id, batch);
      assert.is(res.status, 200, await res.clone().text());
      // Read at once: the answer means durable, the item that waited for room too.
      const items = await durableItems(s, round === 0 ? "sparse" : stage);
      assert.equal([...items].sort((a, b) => a - b), Array.from({ length: 16 }, (_, i) => i));
      assert.is(items.indexOf(15), 15, "the item that waited went in after the gaps closed");
      const body = (await res.json()) as { counters: { processed: number } };
      assert.is(body.counters.processed, 16);
    }
  } finally {
    await s.close();
  }
});

test("an item that never gets room is refused with CKPT_TOO_SPARSE; the rest of its batch is recorded", async () => {
  const s = await sidecar({ serve: true, store: { maxRanges: 1, sparseTimeoutMs: 300 } });
  try {
    const runId = await begin(s, "never");
    const res = await post(s, "never", runId, [10, 20, 0, 1]);
    assert.is(res.status, 409, await res.clone().text());
    assert.is(((await res.json()) as { error: { code: string } }).error.code, "CKPT_TOO_SPARSE");
    assert.equal(await durableItems(s, "never"), [10, 0, 1]);
  } finally {
    await s.close();
  }
});

test("duplicates within and across batches are counted, not refused, and the answer counts them", async () => {
  const s = await sidecar({ serve: true });
  try {
    const runId = await begin(s, "dups");
    assert.is((await post(s, "dups", runId, [0, 1, 2, 1])).status, 200);
    const res = await post(s, "dups", runId, [2, 3, 3, 4]);
    assert.is(res.status, 200);
    const body = (await res.json()) as { counters: { processed: number; duplicates: number } };
    assert.is(body.counters.duplicates, 3);
    assert.equal(await durableItems(s, "dups"), [0, 1, 2, 1, 2, 3, 3, 4]);
  } finally {
    await s.close();
  }
});

test.run();
