/**
 * The reducer: given events, then a state. Pure, refuses bad transitions, snapshot + tail ==
 * replay.
 */
import fc from "fast-check";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { CkptEvent } from "../../core/events.ts";
import { applyToProjection, cloneProjection, initialProjection } from "../../core/projection.ts";
import { has, indices } from "../../core/resume-set.ts";
import { evolve, initialState, type StageState } from "../../core/state.ts";
import { validSequence } from "../helpers/sequences.ts";

let t = 1000;
const ev = (e: Record<string, unknown>) => ({ v: 1, at: t++, ...e }) as CkptEvent;
const given = (...events: CkptEvent[]): StageState =>
  events.reduce((s, e) => evolve(s, e), initialState("st"));
const start = (runId = "r1", extra = {}) => ev({ type: "run.started", runId, ...extra });
const done = (index: number, outcome = "ok", extra = {}) =>
  ev({ type: "item", index, outcome, ...extra });

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

test("a run counts outcomes, cost and the resume point", () => {
  const s = given(
    start("r1", { total: 5 }),
    done(0),
    done(2, "failed", { error: "500" }),
    done(1, "skipped"),
    done(4, "ok", { cost: 1.5, item: "u4", batch: "b" }),
  );
  assert.is(s.status, "running");
  assert.equal(s.counters, {
    processed: 4,
    successful: 2,
    failed: 1,
    skipped: 1,
    duplicates: 0,
    reopened: 0,
  });
  assert.is(s.resume.watermark, 3);
  assert.equal(s.resume.ranges, [4, 5]);
  assert.is(s.resume.lastItem, "u4");
  assert.is(s.resume.batch, "b");
  assert.is(s.cost, 1.5);
  assert.is(s.errors.count, 1);
  assert.is(s.errors.lastMessage, "500");
  assert.is(s.revision, 4);
});

test("a stored event of a type no schema knows (a damaged page that still decodes) is CKPT_CORRUPT, not a TypeError", () => {
  const started = evolve(
    initialState("s"),
    { type: "run.started", v: 1, at: 1, runId: "r" } as CkptEvent,
    0,
  );
  const garbled = { type: "itEm", v: 1, at: 2, index: 0, outcome: "ok" } as unknown as CkptEvent;
  let code: string | undefined;
  try {
    evolve(started, garbled, 1);
  } catch (e) {
    code = (e as { code?: string }).code;
  }
  assert.is(code, "CKPT_CORRUPT");
});

test("a repeated item is a duplicate, never counted twice", () => {
  const s = given(start(), done(0), done(0), done(0, "failed"));
  assert.is(s.counters.processed, 1);
  assert.is(s.counters.successful, 1);
  assert.is(s.counters.duplicates, 2);
});

test("evolve is pure: the input state is untouched", () => {
  const s1 = given(start(), done(0), done(5));
  const copy = JSON.parse(JSON.stringify(s1));
  const s2 = evolve(s1, done(6));
  assert.equal(s1, copy);
  assert.equal(s2.resume.ranges, [5, 7]);
});

test("lifecycle: pause, resume, crash, recover, complete", () => {
  let s = given(start());
  s = evolve(s, ev({ type: "paused", reason: "SIGINT" }));
  assert.is(s.status, "paused");
  s = evolve(s, ev({ type: "resumed" }));
  assert.is(s.status, "running");
  s = evolve(s, ev({ type: "crash.detected", runId: "r1" }));
  assert.is(s.status, "recovering");
  s = evolve(s, start("r2"));
  assert.is(s.status, "running");
  assert.is(s.runs, 2);
  s = evolve(s, ev({ type: "completed", metadata: { rows: 3 } }));
  assert.is(s.status, "completed");
  assert.equal(s.metadata, { rows: 3 });
  assert.ok(s.finishedAt !== null);
});

test("invalid transitions are CKPT_BAD_TRANSITION", () => {
  const fresh = initialState("st");
  assert.is(codeOf(() => evolve(fresh, ev({ type: "completed" }))), "CKPT_BAD_TRANSITION");
  assert.is(codeOf(() => evolve(fresh, done(0))), "CKPT_BAD_TRANSITION");
  assert.is(codeOf(() => evolve(fresh, ev({ type: "paused" }))), "CKPT_BAD_TRANSITION");
  const running = given(start());
  assert.is(codeOf(() => evolve(running, start("again"))), "CKPT_BAD_TRANSITION");
  assert.is(codeOf(() => evolve(running, ev({ type: "resumed" }))), "CKPT_BAD_TRANSITION");
  const completed = given(start(), ev({ type: "completed" }));
  assert.is(codeOf(() => evolve(completed, done(1))), "CKPT_BAD_TRANSITION");
});

test("cost and metadata accumulate across runs; reset clears them", () => {
  let s = given(
    start("a"),
    done(0, "ok", { cost: 2 }),
    ev({ type: "metadata", metadata: { a: 1 } }),
    ev({ type: "paused" }),
  );
  s = evolve(s, start("b"));
  s = evolve(s, done(1, "ok", { cost: 3 }));
  s = evolve(s, ev({ type: "metadata", metadata: { b: 2 } }));
  assert.is(s.cost, 5);
  assert.equal(s.metadata, { a: 1, b: 2 });
  s = evolve(s, ev({ type: "reset" }));
  assert.is(s.status, "initialized");
  assert.is(s.cost, 0);
  assert.is(s.counters.processed, 0);
  assert.ok(s.createdAt !== null, "creation time survives a reset");
});

test("units keep their resume page and records", () => {
  const s = given(
    start(),
    ev({ type: "unit", key: "o/r:pulls", status: "running", page: 1, records: 100 }),
    ev({ type: "unit", key: "o/r:pulls", status: "running", page: 2, records: 50 }),
    ev({
      type: "unit",
      key: "o/r:issues",
      status: "failed",
      page: 4,
      error: "403",
      retryable: false,
    }),
  );
  assert.equal(s.units["o/r:pulls"]?.page, 2);
  assert.equal(s.units["o/r:pulls"]?.records, 150);
  assert.is(s.units["o/r:issues"]?.status, "failed");
  assert.is(s.units["o/r:issues"]?.retryable, false);
  assert.is(s.errors.lastMessage, "403");
});

test("a reopened item is no longer done and is counted again when redone", () => {
  let s = given(start(), done(0), done(1), done(2));
  s = evolve(s, ev({ type: "item.reopened", index: 1 }));
  assert.is(has(s.resume, 1), false);
  assert.is(s.counters.processed, 2);
  s = evolve(s, done(1));
  assert.is(s.counters.processed, 3);
  assert.is(s.counters.duplicates, 0);
});

test("property: snapshot at any point + the tail == full replay", () => {
  fc.assert(
    fc.property(
      fc.array(fc.nat(1000), { minLength: 1, maxLength: 200 }),
      fc.array(fc.nat(49), { minLength: 1, maxLength: 30 }),
      fc.nat(),
      (choices, idx, cut) => {
        const events = validSequence(choices, idx);
        const full = initialProjection("p");
        events.forEach((e, r) => applyToProjection(full, e, r));
        const at = events.length === 0 ? 0 : cut % (events.length + 1);
        const head = initialProjection("p");
        events.slice(0, at).forEach((e, r) => applyToProjection(head, e, r));
        // Through the snapshot encoding boundary: plain data only.
        const resumed = cloneProjection(JSON.parse(JSON.stringify(head)));
        events.slice(at).forEach((e, r) => applyToProjection(resumed, e, at + r));
        assert.equal(resumed, full);
      },
    ),
    { numRuns: 300 },
  );
});

test("property: the resume point never claims an index that was not done", () => {
  fc.assert(
    fc.property(
      fc.array(fc.nat(1000), { minLength: 1, maxLength: 300 }),
      fc.array(fc.nat(49), { minLength: 1, maxLength: 40 }),
      (choices, idx) => {
        const events = validSequence(choices, idx);
        const doneNow = new Set<number>();
        let s = initialState("p");
        for (const e of events) {
          s = evolve(s, e);
          if (e.type === "item") doneNow.add(e.index);
          if (e.type === "item.reopened") doneNow.delete(e.index);
          if (e.type === "reset") doneNow.clear();
        }
        assert.equal([...indices(s.resume)], [...doneNow].sort((a, b) => a - b));
      },
    ),
    { numRuns: 300 },
  );
});

test.run();
