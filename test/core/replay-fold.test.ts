/**
 * The replay iterator's fast fold for bare successful items (core/replay.ts) against the generic
 * fold: after every event of random valid histories, split into pages at random, the state it hands
 * out and the projection it ends with are the ones `applyToProjection` gives.
 */
import fc from "fast-check";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { CkptEvent } from "../../core/events.ts";
import type { RecordedEvent } from "../../core/log.ts";
import { applyToProjection, initialProjection } from "../../core/projection.ts";
import { replayIterator } from "../../core/replay.ts";
import { cloneState, type StageState } from "../../core/state.ts";
import { validSequence } from "../helpers/sequences.ts";

async function* pagesOf(events: CkptEvent[], cuts: number[]): AsyncGenerator<RecordedEvent[]> {
  let at = 0;
  for (let k = 0; at < events.length; k++) {
    const n = 1 + (cuts[k % cuts.length] ?? 0);
    yield events.slice(at, at + n).map((event, i) => ({ revision: at + i, event }));
    at += n;
  }
}

/**
 * Valid sequences with long runs of bare `done(i)` (the fast fold's case), duplicates and
 * out-of-order indexes among them.
 */
function withPlainRuns(choices: number[], idx: number[]): CkptEvent[] {
  const base = validSequence(choices, idx);
  const out: CkptEvent[] = [];
  let at = 10_000;
  for (const [k, e] of base.entries()) {
    out.push(e);
    // After a plain item (the stage is running then), more like it: the same, the next, and one
    // from the past.
    if (e.type === "item" && e.outcome === "ok" && e.cost === undefined && e.item === undefined) {
      for (const index of [e.index, e.index + 1, idx[k % idx.length]!, e.index + 2]) {
        out.push({ type: "item", v: 1, at: at++, index, outcome: "ok" });
      }
    }
  }
  return out;
}

test("property: replay's fast fold hands out the states and ends with the projection of the generic fold", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.nat(1000), { minLength: 1, maxLength: 150 }),
      fc.array(fc.nat(49), { minLength: 1, maxLength: 30 }),
      fc.array(fc.nat(40), { minLength: 1, maxLength: 5 }),
      async (choices, idx, cuts) => {
        const events = withPlainRuns(choices, idx);
        const want = initialProjection("p");
        const wantStates: StageState[] = events.map((
          e,
          r,
        ) => (applyToProjection(want, e, r), cloneState(want.state)));
        const p = initialProjection("p");
        const got: StageState[] = [];
        for await (
          const entry of replayIterator(async () => ({ p, pages: pagesOf(events, cuts) }), {
            from: 0,
          })
        ) got.push(cloneState(entry.state));
        assert.equal(got, wantStates);
        assert.equal(p, want);
      },
    ),
    { numRuns: 300 },
  );
});

test("the fast fold counts a repeated item as a duplicate, as the generic fold does", async () => {
  const events: CkptEvent[] = [
    { type: "run.started", v: 1, at: 1, runId: "r1" },
    ...[0, 1, 1, 5, 0, 2].map((index, k): CkptEvent => ({
      type: "item",
      v: 1,
      at: 2 + k,
      index,
      outcome: "ok",
    })),
  ];
  const p = initialProjection("p");
  for await (
    const _ of replayIterator(async () => ({ p, pages: pagesOf(events, [2]) }), { from: 0 })
  ) void _;
  assert.equal(p.state.counters, {
    ...p.state.counters,
    processed: 4,
    successful: 4,
    duplicates: 2,
  });
  assert.is(p.history.runs[0]!.processed, 4);
  assert.is(p.history.runs[0]!.toRevision, 6);
});

test.run();
