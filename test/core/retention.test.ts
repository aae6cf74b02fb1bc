/**
 * Compaction: state identical before and after, replay starts at the base, live stages untouched,
 * disk reclaimed.
 */
import fc from "fast-check";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { levelLog } from "../../adapters/level.ts";
import { memoryLog } from "../../adapters/memory.ts";
import type { CkptEvent } from "../../core/events.ts";
import type { EventLog } from "../../core/log.ts";
import { loadProjection } from "../../core/fold.ts";
import { Store } from "../../core/store.ts";
import { parseDuration } from "../../core/retention.ts";
import { open } from "../../mod.ts";
import { validSequence } from "../helpers/sequences.ts";
import { tempDir } from "../helpers/tmp.ts";

const DAY = 86_400_000;

/**
 * Appends `events` in batches of random sizes, as the writer would, with snapshots now and then.
 */
async function write(
  log: EventLog,
  stream: string,
  events: CkptEvent[],
  sizes: number[],
): Promise<void> {
  let head = -1;
  let k = 0;
  while (head + 1 < events.length) {
    const n = Math.max(1, sizes[k++ % sizes.length]!);
    const batch = events.slice(head + 1, head + 1 + n);
    head =
      (await log.append(stream, batch, { expectedRevision: head < 0 ? "no_stream" : head })).head;
  }
}

const stateOf = async (log: EventLog, stream: string) =>
  (await loadProjection(log, stream)).projection.state;

test("property: for random histories and policies, state after compaction == state before; replay starts at the base", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.nat(1000), { minLength: 5, maxLength: 150 }),
      fc.array(fc.nat(40), { minLength: 1, maxLength: 20 }),
      fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 5 }),
      fc.record({
        maxEvents: fc.option(fc.nat(80), { nil: undefined }),
        minEvents: fc.nat(10),
        ageDays: fc.option(fc.nat(40), { nil: undefined }),
      }),
      async (choices, idx, sizes, pol) => {
        const events = validSequence(choices, idx);
        // Event i happened (n - i) days ago, so age policies cut somewhere in the middle.
        const now = Date.now();
        events.forEach((e, i) => (e.at = now - (events.length - i) * DAY));
        const log = memoryLog();
        await write(log, "s", events, sizes);
        const store = new Store(log);
        const before = await stateOf(log, "s");
        const fullReplay: unknown[] = [];
        for await (const e of store.stage("s").replay()) fullReplay.push(JSON.stringify(e.state));
        const policy = {
          minEvents: pol.minEvents,
          ...(pol.maxEvents !== undefined ? { maxEvents: pol.maxEvents } : {}),
          maxAgeMs: (pol.ageDays ?? 1000) * DAY,
        };
        const report = await store.compact(policy);
        const info = (await log.info("s"))!;
        const after = await stateOf(log, "s");
        if (before.status === "running" || before.status === "recovering") {
          assert.is(report.stages[0]!.action, "skipped");
          assert.is(info.first, 0);
        }
        assert.equal(after, before);
        assert.ok(
          info.head + 1 - info.first >= Math.min(pol.minEvents, events.length),
          "minEvents kept",
        );
        const replayed: unknown[] = [];
        let firstRevision = -1;
        for await (const e of store.stage("s").replay()) {
          if (firstRevision < 0) firstRevision = e.revision;
          replayed.push(JSON.stringify(e.state));
        }
        if (info.first <= info.head) {
          assert.is(firstRevision, info.first, "replay starts at the first stored event");
        }
        assert.equal(
          replayed,
          fullReplay.slice(info.first),
          "replayed states match the full history's",
        );
        await store.close();
      },
    ),
    { numRuns: 150 },
  );
});

async function buildStore(path: string) {
  const store = await open({ path, snapshotEvery: 500 });
  const old = await store.stage("old").begin({ total: 5000 });
  for (let i = 0; i < 5000; i++) {
    await old.done(i, { item: `https://example.test/a/long/url/${i}` });
  }
  await old.complete();
  const paused = await store.stage("paused").begin();
  for (let i = 0; i < 300; i++) await paused.done(i);
  await paused.pause();
  await paused.close();
  const live = await store.stage("live").begin();
  for (let i = 0; i < 300; i++) await live.done(i);
  return { store, live };
}

test("count policy on LevelDB: stages compacted, live stage untouched, disk reclaimed, history summarised", async () => {
  const dir = await tempDir();
  const { store, live } = await buildStore(dir.path);
  const before = {
    old: await store.stage("old").state(),
    paused: await store.stage("paused").state(),
    live: await store.stage("live").state(),
  };
  const dry = await store.compact({ maxEvents: 200, minEvents: 100, dryRun: true });
  assert.is(dry.dryRun, true);
  assert.is((await store.log.info("old"))!.first, 0, "dry run changed nothing");
  assert.equal(dry.stages.map((s) => [s.stage, s.action]), [["live", "skipped"], [
    "old",
    "compacted",
  ], ["paused", "compacted"]]);
  const report = await store.compact({ maxEvents: 200, minEvents: 100 });
  assert.equal(report.stages.map((s) => [s.stage, s.action]), [["live", "skipped"], [
    "old",
    "compacted",
  ], ["paused", "compacted"]]);
  assert.is(report.eventsRemoved, dry.eventsRemoved);
  assert.ok(report.bytesReclaimed! > 0, `reclaimed ${report.bytesReclaimed} bytes`);
  assert.is((await store.log.info("live"))!.first, 0);
  assert.is((await store.log.info("old"))!.head - (await store.log.info("old"))!.first + 1, 200);
  assert.equal(await store.stage("old").state(), before.old);
  assert.equal(await store.stage("paused").state(), before.paused);
  const h = await store.stage("old").history();
  assert.equal(h.runs.map((r) => [r.outcome, r.processed]), [["completed", 5000]]);
  assert.is(h.compactedEvents, report.stages.find((s) => s.stage === "old")!.eventsRemoved);
  await live.done(300);
  await store.close();
  // A fresh process sees the same.
  const again = await open({ path: dir.path });
  assert.equal(await again.stage("old").state(), before.old);
  const p = await again.stage("paused").begin();
  assert.is(p.resumed.skipped, 300);
  await again.close();
  await dir.remove();
});

test("stage TTL removes finished and idle stages whole, never running ones", async () => {
  const log = memoryLog();
  const store = new Store(log);
  const a = await store.stage("done-long-ago").begin();
  await a.complete();
  const b = await store.stage("running").begin();
  await b.done(0);
  const report = await store.compact({ stageTtlMs: 1000 }, {});
  assert.equal(report.stages.map((s) => s.action), ["kept", "skipped"]);
  const later = await (await import("../../core/retention.ts")).compactLog(log, {
    stageTtlMs: 1000,
  }, {
    withStage: async (s, act) => {
      const st = await store.stage(s).state();
      return (await act({
        status: st.status,
        updatedAt: Date.now() - 2 * DAY,
        revision: st.revision,
        active: false,
      })).report;
    },
    now: Date.now(),
  });
  assert.equal(later.stages.map((s) => [s.stage, s.action]), [["done-long-ago", "deleted"], [
    "running",
    "skipped",
  ]]);
  assert.equal((await log.streams()).map((s) => s.stream), ["running"]);
  await store.close();
});

test("policies a user can get wrong are CKPT_INVALID", async () => {
  const store = new Store(memoryLog());
  for (const bad of [{}, { maxEvents: -1 }, { maxAgeMs: 1.5 }, { stageTtlMs: Number.NaN }]) {
    try {
      await store.compact(bad);
      assert.unreachable(JSON.stringify(bad));
    } catch (e) {
      assert.is((e as { code: string }).code, "CKPT_INVALID");
    }
  }
  assert.is(parseDuration("7d"), 7 * DAY);
  assert.is(parseDuration("90s"), 90_000);
  assert.is(parseDuration("1.5h"), 5_400_000);
  try {
    parseDuration("7 days");
    assert.unreachable();
  } catch (e) {
    assert.is((e as { code: string }).code, "CKPT_INVALID");
  }
  await store.close();
});

test("level: a real compaction against many revisions keeps every stage resumable", async () => {
  const dir = await tempDir();
  const log = await levelLog(dir.path);
  const store = new Store(log, { snapshotEvery: 97 });
  for (const name of ["a", "b", "c"]) {
    const run = await store.stage(name).begin();
    for (let i = 0; i < 1000; i++) run.mark(i * 2);
    await run.flush();
    await run.fail("stopped");
  }
  const before = await Promise.all(["a", "b", "c"].map((n) => store.stage(n).state()));
  await store.compact({ maxEvents: 10, minEvents: 5 });
  const after = await Promise.all(["a", "b", "c"].map((n) => store.stage(n).state()));
  assert.equal(after, before);
  await store.close();
  await dir.remove();
});

test.run();
