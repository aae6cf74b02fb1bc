/**
 * The library API over a real LevelDB: resume, crash detection, fingerprints, group commit,
 * back-pressure, bad input.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import fc from "fast-check";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { levelLog } from "../../adapters/level.ts";
import { memoryLog } from "../../adapters/memory.ts";
import { ItemDone } from "../../core/events.ts";
import { Run } from "../../core/run.ts";
import { Store } from "../../core/store.ts";
import { open } from "../../mod.ts";
import { runtimePlatform } from "../../runtime/platform.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { countingLog } from "../helpers/counting-log.ts";
import { faultyLog } from "../helpers/faulty-log.ts";
import { tempDir } from "../helpers/tmp.ts";

async function code(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    return (e as { code?: string }).code ?? `not coded: ${e}`;
  }
  return undefined;
}

async function withStore<T>(
  f: (store: Store, dir: string) => Promise<T>,
  options = {},
): Promise<T> {
  const dir = await tempDir();
  const store = await open({ path: join(dir.path, "store"), ...options });
  try {
    return await f(store, dir.path);
  } finally {
    await store.close();
    await dir.remove();
  }
}

test("a stage left running (process gone) resumes as recovering with a crash-detected event", async () => {
  const dir = await tempDir();
  const path = join(dir.path, "s");
  const store = await open({ path });
  const run = await store.stage("crawl").begin({ total: 10 });
  await run.done(0);
  await run.done(1);
  // Simulate a dead process: close the log under the store without pausing.
  await store.log.close();
  const again = await open({ path });
  const r2 = await again.stage("crawl").begin({ total: 10 });
  assert.is(r2.resumed.crashed, true);
  assert.is(r2.resumed.from, "running");
  assert.is(r2.resumed.skipped, 2);
  assert.match(r2.resumed.message, "after a crash");
  const h = await again.stage("crawl").history();
  assert.equal(h.statusChanges.map((c) => c.to), ["running", "recovering", "running"]);
  assert.equal(h.runs.map((r) => [r.outcome, r.recovered]), [["crashed", false], [
    "running",
    true,
  ]]);
  await again.close();
  await dir.remove();
});

test("a second begin() in the same process is CKPT_LOCKED", () =>
  withStore(async (store) => {
    await store.stage("a").begin();
    assert.is(await code(store.stage("a").begin()), "CKPT_LOCKED");
  }));

test("input and config changes are refused with their codes, or restart on request", () =>
  withStore(async (store, dir) => {
    const input = join(dir, "urls.txt");
    await writeFile(input, "a\nb\n");
    let run = await store.stage("s").begin({ input, config: { model: "x", temp: 0 } });
    await run.done(0);
    await run.pause();
    await run.close();
    // Same config with keys in another order: same digest.
    run = await store.stage("s").begin({ input, config: { temp: 0, model: "x" } });
    await run.pause();
    await run.close();
    assert.is(
      await code(store.stage("s").begin({ input, config: { model: "y", temp: 0 } })),
      "CKPT_CONFIG_CHANGED",
    );
    await writeFile(input, "a\nb\nc\n");
    try {
      await store.stage("s").begin({ input });
      assert.unreachable();
    } catch (e) {
      assert.is((e as { code: string }).code, "CKPT_INPUT_CHANGED");
      assert.match((e as Error).message, '"s"');
      assert.match((e as Error).message, "onChange");
    }
    assert.is(
      (await store.stage("s").state()).counters.processed,
      1,
      "a refused begin changes nothing",
    );
    run = await store.stage("s").begin({ input, onChange: "restart" });
    assert.is(run.resumed.restarted, true);
    assert.is(run.state.counters.processed, 0);
    assert.is(
      await code(store.stage("t").begin({ input: join(dir, "missing.txt") })),
      "CKPT_NOT_FOUND",
    );
  }));

test("verify on resume reopens items whose output is gone", () =>
  withStore(async (store) => {
    let run = await store.stage("v").begin({ total: 6 });
    for (let i = 0; i < 6; i++) await run.done(i);
    await run.pause();
    await run.close();
    const valid = new Set([0, 1, 3, 5]);
    run = await store.stage("v").begin({ total: 6, verify: (i) => valid.has(i) });
    assert.is(run.resumed.reopened, 2);
    assert.is(run.resumed.skipped, 4);
    assert.match(run.resumed.message, "2 reopened");
    assert.is(run.isDone(2), false);
    assert.is(run.isDone(4), false);
    assert.is(run.isDone(3), true);
  }));

test("many concurrent done() calls share appends (group commit), each resolving durable", async () => {
  const dir = await tempDir();
  const { log, counts } = countingLog(await levelLog(dir.path));
  const store = new Store(log, { platform: runtimePlatform });
  const run = await store.stage("g").begin();
  const before = counts.appends;
  await Promise.all(Array.from({ length: 640 }, (_, i) => run.done(i)));
  const appends = counts.appends - before;
  assert.ok(appends < 64, `640 awaited updates took ${appends} appends`);
  assert.is(counts.appended - 1, 640);
  await store.close();
  // Everything acknowledged is on disk.
  const again = new Store(await levelLog(dir.path));
  assert.is((await again.stage("g").state()).counters.processed, 640);
  await again.close();
  await dir.remove();
});

test("mark() does not wait; flush() makes it durable; memory is bounded by back-pressure", async () => {
  const { log } = countingLog(memoryLog());
  const store = new Store(log, { highWater: 1000 });
  const run = await store.stage("m").begin();
  let waits = 0;
  for (let i = 0; i < 20_000; i++) {
    const w = run.mark(i);
    if (w) {
      waits++;
      await w;
    }
    assert.ok(store.log && run.state.counters.processed === i + 1);
  }
  await run.flush();
  assert.ok(waits > 0, "the caller was asked to wait at least once");
  assert.is((await store.stage("m").history()).runs[0]?.processed, 20_000);
  await store.close();
});

test("over the high-water mark every mark() gets one shared wait: it ends when the queue drains, or with the writer's failure", async () => {
  const { log, faults } = faultyLog(memoryLog());
  const store = new Store(log, { highWater: 10 });
  const run = await store.stage("hw").begin();
  // Appends wait at a gate until the test lets them through.
  let release: (() => void) | undefined;
  faults.gate = () => new Promise<void>((r) => (release = r));
  const letThrough = async () => {
    while (!release) await new Promise((r) => setTimeout(r, 1));
    const r = release;
    release = undefined;
    r();
  };
  const waits = new Set<Promise<void>>();
  for (let i = 0; i < 100; i++) {
    const w = run.mark(i);
    if (w) waits.add(w);
  }
  // 100 queued, far over 10: one promise for all 90 asks.
  assert.is(waits.size, 1);
  const [shared] = [...waits];
  let done = false;
  void shared!.then(() => (done = true));
  await letThrough();
  delete faults.gate;
  await run.flush();
  await shared;
  assert.ok(done && run.state.counters.processed === 100);
  // A writer that fails rejects the wait its callers share, with the sticky error.
  faults.gate = () => new Promise<void>((r) => (release = r));
  faults.failAppends.add(faults.appends + 1);
  const asks = new Set<Promise<void>>();
  for (let i = 100; i < 120; i++) {
    const w = run.mark(i);
    if (w) asks.add(w);
  }
  assert.is(asks.size, 1);
  const [again] = [...asks];
  assert.ok(again !== shared, "a new wait once the last one ended");
  await letThrough();
  const err = await again!.then(() => undefined, (e: { code?: string }) => e);
  assert.is(err?.code, "CKPT_IO");
  await store.close().catch(() => undefined);
});

test("too many items out of order: the caller waits for gaps, then CKPT_TOO_SPARSE", async () => {
  const clock = manualClock();
  const store = new Store(memoryLog(), { maxRanges: 3, sparseTimeoutMs: 200, clock });
  const run = await store.stage("sp").begin();
  await run.done(2);
  await run.done(4);
  await run.done(6);
  const late = run.done(8); // a 4th range must wait
  let settled = false;
  void late.then(() => (settled = true), () => (settled = true));
  await run.flush();
  clock.advance(199);
  await Promise.resolve();
  assert.is(settled, false, "waits while ranges are at the cap");
  await run.done(0);
  await run.done(1); // joins the watermark with [2,3): a range closes
  await late;
  assert.is(run.isDone(8), true);
  const refused = run.done(10);
  clock.advance(200); // the wait's time runs out: driven, not slept
  assert.is(await code(refused), "CKPT_TOO_SPARSE");
  assert.is(run.isDone(10), false, "a refused item is not recorded");
  await store.close();
});

test("bad input is refused with CKPT_INVALID and the log is unchanged", async () => {
  const { log, counts } = countingLog(memoryLog());
  const store = new Store(log);
  for (const name of ["", "../x", "a/b", "x".repeat(201), " lead", "a..b", "\u0000"]) {
    assert.is(await code(() => store.stage(name)), "CKPT_INVALID", JSON.stringify(name));
  }
  const run = await store.stage("ok").begin();
  const appended = counts.appended;
  for (const index of [-1, 1.5, NaN, Infinity, "3" as unknown as number, 2 ** 60]) {
    assert.is(await code(run.done(index)), "CKPT_INVALID", String(index));
    assert.is(await code(async () => run.mark(index)), "CKPT_INVALID", String(index));
  }
  assert.is(await code(run.done(1, { cost: -1 })), "CKPT_INVALID");
  assert.is(await code(run.done(1, { item: 5 as unknown as string })), "CKPT_INVALID");
  assert.is(await code(run.done(1, { ok: "yes" as unknown as boolean })), "CKPT_INVALID");
  assert.is(await code(run.progress({ ok: -3 })), "CKPT_INVALID");
  assert.is(await code(run.unit("").page(1)), "CKPT_INVALID");
  assert.is(await code(run.metadata("x" as unknown as Record<string, unknown>)), "CKPT_INVALID");
  assert.is(await code(store.stage("b").begin({ total: -5 })), "CKPT_INVALID");
  assert.is(await code(store.stage("b").begin({ input: { sha256: "nothex" } })), "CKPT_INVALID");
  assert.is(await code(store.stage("b").begin({ config: { f: () => 1 } })), "CKPT_INVALID");
  assert.is(counts.appended, appended, "nothing was written");
  assert.is(run.state.counters.processed, 0);
  await store.close();
});

test("the item fast path and the zod schema agree on every input", async () => {
  const store = new Store(memoryLog());
  const run = await store.stage("fp").begin();
  const anyValue = fc.oneof(
    fc.integer(),
    fc.double(),
    fc.string({ maxLength: 3000 }),
    fc.boolean(),
    fc.constant(undefined),
    fc.constant(null),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(fc.nat(), fc.integer({ min: -5, max: 5 }), fc.double()),
      fc.record({
        ok: anyValue,
        skipped: anyValue,
        item: anyValue,
        batch: anyValue,
        cost: anyValue,
        error: anyValue,
      }, { requiredKeys: [] }),
      async (index, o) => {
        const outcome = o.skipped ? "skipped" : o.ok === false ? "failed" : "ok";
        const e: Record<string, unknown> = { type: "item", v: 1, at: 1, index, outcome };
        for (const k of ["item", "batch", "cost", "error"] as const) {
          if (o[k] !== undefined) e[k] = o[k];
        }
        const schemaOk = ItemDone.safeParse(e).success &&
          (o.ok === undefined || typeof o.ok === "boolean") &&
          (o.skipped === undefined || typeof o.skipped === "boolean");
        let apiOk = true;
        try {
          run.mark(index, o as never);
        } catch (err) {
          apiOk = false;
          assert.is((err as { code: string }).code, "CKPT_INVALID");
        }
        assert.is(apiOk, schemaOk, JSON.stringify({ index, o }));
      },
    ),
    { numRuns: 400 },
  );
  await run.flush();
  await store.close();
});

test("operations on a closed store or ended run are CKPT_CLOSED", async () => {
  const store = new Store(memoryLog());
  const run = await store.stage("c").begin();
  await run.complete();
  assert.is(await code(run.done(1)), "CKPT_CLOSED");
  await store.close();
  assert.is(await code(() => store.stage("c")), "CKPT_CLOSED");
});

test("bad transitions from the API are CKPT_BAD_TRANSITION and write nothing", async () => {
  const { log, counts } = countingLog(memoryLog());
  const store = new Store(log);
  const run = await store.stage("bt").begin();
  await run.pause();
  const n = counts.appended;
  assert.is(await code(run.pause()), "CKPT_BAD_TRANSITION");
  assert.is(await code(run.done(0)), "CKPT_BAD_TRANSITION");
  assert.is(await code(run.complete()), "CKPT_BAD_TRANSITION");
  assert.is(counts.appended, n);
  await run.resume();
  await run.done(0);
  await run.complete();
  assert.is((await store.stage("bt").state()).status, "completed");
  await store.close();
});

test("replay yields every event with the state after it, honouring from/to and time", () =>
  withStore(async (store) => {
    const run = await store.stage("r").begin({ total: 30 });
    for (let i = 0; i < 30; i++) await run.done(i);
    await run.complete();
    const all: number[] = [];
    for await (const e of store.stage("r").replay()) all.push(e.state.counters.processed);
    assert.equal(all, [0, ...Array.from({ length: 30 }, (_, i) => i + 1), 30]);
    const some: number[] = [];
    for await (const e of store.stage("r").replay({ from: 10, to: 12 })) some.push(e.revision);
    assert.equal(some, [10, 11, 12]);
    const h = await store.stage("r").history();
    const end = h.runs[0]!.endedAt!;
    let n = 0;
    for await (const _ of store.stage("r").replay({ since: end })) n++;
    assert.ok(n >= 1);
  }, { snapshotEvery: 7 }));

test("watch() yields new events with the state after each", () =>
  withStore(async (store) => {
    const stage = store.stage("w");
    const run = await stage.begin();
    const ac = new AbortController();
    const seen: string[] = [];
    const watching = (async () => {
      for await (const e of stage.watch({ signal: ac.signal })) {
        seen.push(`${e.event.type}:${e.state.counters.processed}`);
        if (e.event.type === "completed") ac.abort();
      }
    })();
    await run.done(0);
    await run.done(1);
    await run.complete();
    await watching;
    assert.equal(seen, ["item:1", "item:2", "completed:2"]);
  }));

test("reset starts over; delete removes the stage", () =>
  withStore(async (store) => {
    const run = await store.stage("x").begin();
    await run.done(0);
    assert.is(await code(store.stage("x").reset()), "CKPT_LOCKED");
    await run.complete();
    await store.stage("x").reset({ reason: "redo" });
    const s = await store.stage("x").state();
    assert.is(s.status, "initialized");
    assert.is(s.counters.processed, 0);
    assert.equal((await store.stages()).map((x) => x.stage), ["x"]);
    await store.stage("x").delete();
    assert.equal(await store.stages(), []);
    assert.is(await store.stage("x").exists(), false);
  }));

test("stages() filters by prefix and status and carries progress figures", () =>
  withStore(async (store) => {
    const a = await store.stage("etl.a").begin({ total: 4 });
    await a.done(0);
    await a.done(1);
    const b = await store.stage("etl.b").begin();
    await b.complete();
    await (await store.stage("other").begin()).pause();
    const etl = await store.stages({ prefix: "etl." });
    assert.equal(etl.map((s) => s.stage), ["etl.a", "etl.b"]);
    assert.is(etl[0]!.progress.percent, 50);
    assert.equal((await store.stages({ status: "completed" })).map((s) => s.stage), ["etl.b"]);
    assert.equal((await store.stages({ status: ["paused", "running"] })).map((s) => s.stage), [
      "etl.a",
      "other",
    ]);
  }));

test("units: paged work resumes at the next page", () =>
  withStore(async (store) => {
    const run = await store.stage("api").begin();
    const u = run.unit("octo/repo:pulls");
    assert.is(u.nextPage(), 1);
    await u.page(1, { records: 100 });
    await u.page(2, { records: 30 });
    assert.is(u.nextPage(), 3);
    await u.complete();
    assert.is(u.done, true);
    await run.unit("octo/repo:issues").fail(new Error("403 forbidden"), { retryable: false });
    const s = await store.stage("api").state();
    assert.is(s.units["octo/repo:pulls"]?.records, 130);
    assert.is(s.units["octo/repo:issues"]?.status, "failed");
    assert.is(s.errors.lastMessage, "403 forbidden");
  }));

test("store.close() records an active run as paused, so the next begin is not a crash", async () => {
  const dir = await tempDir();
  const store = await open({ path: dir.path });
  const run = await store.stage("p").begin();
  await run.done(0);
  await store.close();
  assert.ok(run instanceof Run && run.ended);
  const again = await open({ path: dir.path });
  const r2 = await again.stage("p").begin();
  assert.is(r2.resumed.crashed, false);
  assert.is(r2.resumed.from, "paused");
  await again.close();
  await dir.remove();
});

test.run();
