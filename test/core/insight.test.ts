/**
 * The dashboard's pure folds, given events and then asserted: lineage effects (also over a
 * compacted start) and the insight's series and groups.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { CkptEvent } from "../../core/events.ts";
import { InsightFold } from "../../core/insight.ts";
import { LineageFold } from "../../core/lineage.ts";
import type { ReplayEntry } from "../../core/replay.ts";
import { cloneState, evolve, initialState, type StageState } from "../../core/state.ts";

/** Replay entries for `events`, revisions from `from`, folded from `start`. */
function entries(
  events: CkptEvent[],
  start: StageState = initialState("s"),
  from = 0,
): ReplayEntry[] {
  let s = start;
  return events.map((event, i) => {
    s = evolve(s, event, from + i);
    return { revision: from + i, event, state: cloneState(s) };
  });
}
const started = (at: number, runId = "r1"): CkptEvent => ({
  type: "run.started",
  v: 1,
  at,
  runId,
  owner: { host: "h", pid: 7, runId },
  total: 1000,
});
const item = (
  at: number,
  index: number,
  extra: Partial<Extract<CkptEvent, { type: "item" }>> = {},
): CkptEvent => ({ type: "item", v: 1, at, index, outcome: "ok", ...extra });

test("lineage: recorded, duplicate, error, reset, and a second run's attempt", () => {
  const fold = new LineageFold("s", 2);
  for (
    const e of entries([
      started(0),
      { type: "error", v: 1, at: 1, message: "timeout", retryable: true, index: 2 },
      item(2, 2, { outcome: "failed", error: "500" }),
      item(3, 2, { cost: 1 }),
      item(4, 3),
      { type: "reset", v: 1, at: 5, reason: "bad data" },
      started(6, "r2"),
      item(7, 2, { outcome: "skipped" }),
    ])
  ) fold.add(e);
  const l = fold.result();
  assert.equal(l.entries.map((e) => e.effect), [
    "error",
    "recorded",
    "duplicate",
    "reset",
    "recorded",
  ]);
  assert.equal([l.done, l.outcome, l.attempts, l.errors, l.cost], [true, "skipped", 3, 1, 1]);
  assert.equal([l.entries[1]!.runId, l.entries[1]!.host, l.entries[1]!.pid], ["r1", "h", 7]);
  assert.is(l.entries[3]!.reason, "bad data");
  assert.is(l.entries[4]!.runId, "r2");
  assert.is(l.firstRevision, 0);
});

test("lineage over a compacted start: an item done before the base is done, its story says where it begins", () => {
  const base = entries([started(0), item(1, 9)]).at(-1)!.state;
  const fold = new LineageFold("s", 9);
  for (const e of entries([item(2, 4), item(3, 9)], base, 2)) fold.add(e);
  const l = fold.result();
  assert.is(l.firstRevision, 2);
  assert.equal(l.entries.map((e) => e.effect), ["duplicate"]);
  assert.is(l.done, true);
});

test("insight: the rate is items per second over a trailing window, a reset restarts it; errors are grouped", () => {
  const events: CkptEvent[] = [started(0)];
  for (let i = 0; i < 100; i++) {
    events.push(
      item(1000 + i * 100, i, i % 10 === 0 ? { outcome: "failed", error: "HTTP 503" } : {}),
    ); // 10 items a second
  }
  events.push({ type: "reset", v: 1, at: 20_000 }, started(20_001, "r2"), item(20_100, 0));
  const fold = new InsightFold("s");
  for (const e of entries(events)) fold.add(e);
  const r = fold.result();
  const steady = r.series.filter((p) => p.at >= 3000 && p.at < 11_000);
  assert.ok(steady.length > 50);
  for (const p of steady) assert.ok(Math.abs(p.rate! - 10) < 0.01, `rate ${p.rate} at ${p.at}`);
  const afterReset = r.series.find((p) => p.at === 20_000)!;
  assert.is(afterReset.processed, 0);
  assert.is(afterReset.rate, null);
  assert.equal(r.timeline.map((t) => t.type), ["run.started", "reset", "run.started"]);
  assert.equal([r.errors[0]!.message, r.errors[0]!.count, r.errors[0]!.indices], ["HTTP 503", 10, [
    0,
    10,
    20,
    30,
    40,
  ]]);
  assert.equal(r.owners, { r1: { host: "h", pid: 7 }, r2: { host: "h", pid: 7 } });
});

test("insight: a long history keeps at most 400 points, evenly thinned", () => {
  const events: CkptEvent[] = [started(0)];
  for (let i = 0; i < 5000; i++) events.push(item(1 + i, i));
  const fold = new InsightFold("s");
  for (const e of entries(events)) fold.add(e);
  const { series } = fold.result();
  assert.ok(series.length <= 400 && series.length > 150, `${series.length} points`);
  assert.ok(series.every((p, i) => i === 0 || p.processed > series[i - 1]!.processed));
});

test.run();
