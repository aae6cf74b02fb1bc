/**
 * Property tests of the write path (fast-check), on memory and LevelDB: random interleavings of
 * mark, done, unit.page, progress, flush, pause/close/begin, compaction beside the run and TTL
 * deletion, with injected append failures and small highWater / maxRanges / maxBatch. Invariants:
 * - a resolved done/flush ⇒ its items are in the log after reopen; an item whose every attempt was
 *   refused ⇒ it is not;
 * - a resolved mark() wait ⇒ isDone(i) at once;
 * - no unhandledRejection, no promise left pending once close() settled;
 * - the reopened state (snapshot + tail, base after compaction) equals a full replay of every
 *   acknowledged event from zero.
 * Runs CKPT_PROPERTY_RUNS cases per property (default 1000); the seed is printed on failure
 * (fast-check's report) and CKPT_PROPERTY_SEED replays one.
 */
import process from "node:process";
import fc from "fast-check";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { levelLog } from "../../adapters/level.ts";
import { memoryLog } from "../../adapters/memory.ts";
import type { CkptEvent } from "../../core/events.ts";
import type { EventLog } from "../../core/log.ts";
import type { Run } from "../../core/run.ts";
import { evolve, initialState, isDone, type StageState } from "../../core/state.ts";
import { Store } from "../../core/store.ts";
import { faultyLog } from "../helpers/faulty-log.ts";
import { tempDir } from "../helpers/tmp.ts";

const RUNS = Number(process.env.CKPT_PROPERTY_RUNS ?? 1000);
const SEED = process.env.CKPT_PROPERTY_SEED === undefined
  ? undefined
  : Number(process.env.CKPT_PROPERTY_SEED);
const params = (numRuns: number) => ({ numRuns, ...(SEED === undefined ? {} : { seed: SEED }) });

type Op =
  | { k: "done"; i: number; wait: boolean }
  | { k: "mark"; i: number }
  | { k: "page"; page: number }
  | { k: "progress"; n: number }
  | { k: "flush" }
  | { k: "settle" }
  | { k: "cycle"; then: "compact" | "ttl" | "none" }
  | { k: "compactBeside" };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ k: fc.constant("done" as const), i: fc.nat(30), wait: fc.boolean() }),
  },
  { weight: 6, arbitrary: fc.record({ k: fc.constant("mark" as const), i: fc.nat(30) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("page" as const), page: fc.nat(5) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("progress" as const), n: fc.nat(3) }) },
  { weight: 2, arbitrary: fc.constant({ k: "flush" as const }) },
  { weight: 2, arbitrary: fc.constant({ k: "settle" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant("cycle" as const),
      then: fc.constantFrom("compact" as const, "ttl" as const, "none" as const),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ k: "compactBeside" as const }) },
);

const scenario = fc.record({
  ops: fc.array(op, { minLength: 1, maxLength: 20 }),
  failAppends: fc.uniqueArray(fc.integer({ min: 2, max: 40 }), { maxLength: 3 }),
  highWater: fc.integer({ min: 1, max: 8 }),
  maxRanges: fc.integer({ min: 1, max: 6 }),
  maxBatch: fc.integer({ min: 1, max: 8 }),
  snapshotEvery: fc.integer({ min: 1, max: 10 }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

/**
 * Records every acknowledged append (and deletion) of the stage: the full history a replay from
 * zero must match.
 */
function teeLog(inner: EventLog, stream: string, history: CkptEvent[]): EventLog {
  const log = Object.create(inner) as EventLog;
  Object.defineProperties(log, {
    supports: { get: () => inner.supports },
    location: { get: () => inner.location },
    append: {
      value: async (
        s: string,
        events: readonly CkptEvent[],
        o: Parameters<EventLog["append"]>[2],
      ) => {
        const r = await inner.append(s, events, o);
        if (s === stream) history.push(...events);
        return r;
      },
    },
    delete: {
      value: async (s: string, o?: Parameters<EventLog["delete"]>[1]) => {
        await inner.delete(s, o);
        if (s === stream) history.length = 0;
      },
    },
  });
  for (
    const k of [
      "read",
      "readBatches",
      "streams",
      "info",
      "saveSnapshot",
      "loadSnapshot",
      "truncateBefore",
      "sizeBytes",
      "close",
    ] as const
  ) {
    const f = (inner as unknown as Record<string, unknown>)[k];
    if (typeof f === "function") {
      Object.defineProperty(log, k, { value: (f as (...a: unknown[]) => unknown).bind(inner) });
    }
  }
  return log;
}

interface Tracked {
  settled: boolean;
}

async function runScenario(base: EventLog, stageName: string, sc: Scenario): Promise<void> {
  const history: CkptEvent[] = [];
  const { log } = faultyLog(teeLog(base, stageName, history), sc.failAppends);
  // Closing this store must not close the shared base log (LevelDB is reopened per property, not
  // per case).
  const storeLog = Object.create(log) as EventLog;
  Object.defineProperty(storeLog, "close", { value: async () => {} });
  for (const k of ["supports", "location"] as const) {
    Object.defineProperty(storeLog, k, { get: () => log[k] });
  }
  const store = new Store(storeLog, {
    highWater: sc.highWater,
    maxRanges: sc.maxRanges,
    maxBatch: sc.maxBatch,
    snapshotEvery: sc.snapshotEvery,
    sparseTimeoutMs: 0,
  });
  const stage = store.stage(stageName);
  const prefix = stageName.slice(0, stageName.indexOf(".") + 1); // this case's stages only (the log is shared)
  const must = new Set<number>();
  const attempted = new Set<number>();
  const maybe = new Set<number>(); // queued, outcome unknown until a flush
  const uncertain = new Set<number>(); // a mark() that waited for room and was refused or is still waiting
  const tracked: Tracked[] = [];
  const inflight: Promise<unknown>[] = [];
  const track = (p: Promise<unknown>, onOk?: () => void) => {
    const t: Tracked = { settled: false };
    tracked.push(t);
    const q = p.then(
      () => {
        t.settled = true;
        onOk?.();
      },
      () => {
        t.settled = true;
      },
    );
    inflight.push(q);
  };
  let run: Run | undefined = await stage.begin().catch(() => undefined);
  const live = () => run !== undefined && !run.ended;
  for (const o of sc.ops) {
    if (!run || !live()) {
      // A flush of the new run says nothing about what the old one queued: known only after reopen.
      for (const i of maybe) uncertain.add(i);
      maybe.clear();
      run = await stage.begin().catch(() => undefined);
      if (!run) continue;
    }
    const r = run;
    switch (o.k) {
      case "done": {
        attempted.add(o.i);
        const p = r.done(o.i);
        track(p, () => must.add(o.i));
        if (o.wait) await p.catch(() => undefined);
        break;
      }
      case "mark": {
        attempted.add(o.i);
        let wait: Promise<void> | undefined;
        try {
          wait = r.mark(o.i);
        } catch {
          break; // refused at once (sticky error): not recorded
        }
        // Queued now (no wait, or only the high-water wait: the item is already in the state), or
        // waiting for room; whether a queued item lands is known after a flush that covers it.
        if (!wait || r.isDone(o.i)) maybe.add(o.i);
        else uncertain.add(o.i);
        if (wait) {
          track(wait, () => {
            assert.ok(r.isDone(o.i), `a resolved mark(${o.i}) wait ⇒ isDone`);
            maybe.add(o.i);
          });
        }
        break;
      }
      case "page":
        track(r.unit("u").page(o.page));
        break;
      case "progress":
        track(r.progress({ ok: o.n }));
        break;
      case "flush": {
        const covered = [...maybe];
        track(r.flush(), () => covered.forEach((i) => must.add(i)));
        break;
      }
      case "settle":
        await Promise.all(inflight);
        break;
      case "cycle": {
        await Promise.all(inflight);
        await r.pause().catch(() => undefined);
        await r.close().catch(() => undefined);
        run = undefined;
        if (o.then === "compact") await store.compact({ maxEvents: 3, minEvents: 0, prefix });
        if (o.then === "ttl") {
          const report = await store.compact({ stageTtlMs: 0, prefix });
          if (report.stagesDeleted > 0) {
            // Removed on purpose: nothing is owed any more.
            must.clear();
            attempted.clear();
            maybe.clear();
            uncertain.clear();
          }
        }
        break;
      }
      case "compactBeside":
        // Not awaited: runs beside the live run, which it must skip or leave intact.
        track(store.compact({ maxEvents: 2, minEvents: 0, prefix }));
        break;
    }
  }
  await Promise.all(inflight);
  if (run && live()) await run.close().catch(() => undefined);
  await store.close().catch(() => undefined);
  await new Promise((r) => setTimeout(r, 0));
  assert.ok(tracked.every((t) => t.settled), "no promise left pending after close()");

  const reread = new Store(storeLog);
  const st = (await reread.stage(stageName).exists())
    ? await reread.stage(stageName).state()
    : undefined;
  const full = history.reduce<StageState>((s, e, k) => evolve(s, e, k), initialState(stageName));
  if (st) {
    for (const i of must) {
      assert.ok(isDone(st, i), `acknowledged item ${i} is in the log after reopen`);
    }
    for (const i of attempted) {
      if (!must.has(i) && !maybe.has(i) && !uncertain.has(i)) {
        assert.not.ok(isDone(st, i), `refused item ${i} is not counted`);
      }
    }
    assert.equal(st, full, "snapshot + tail (or base + tail) == full replay from zero");
  } else {
    assert.is(must.size, 0, "a stage with acknowledged items is not missing");
  }
  await reread.close().catch(() => undefined);
}

async function property(
  name: string,
  open: () => Promise<{ log: EventLog; done: () => Promise<void> }>,
  runs: number,
) {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => {
    unhandled.push(e);
    if (process.env.CKPT_PROPERTY_DEBUG) console.error("unhandled:", e);
  };
  process.on("unhandledRejection", onUnhandled);
  const { log, done } = await open();
  let n = 0;
  try {
    await fc.assert(
      fc.asyncProperty(scenario, async (sc) => {
        try {
          await runScenario(log, `p${n++}.s`, sc);
        } catch (e) {
          // fast-check reports the counterexample and seed; the assertion says which invariant
          // broke.
          if (process.env.CKPT_PROPERTY_DEBUG) console.error("invariant:", (e as Error).message);
          throw new Error(
            `${(e as Error).message}${
              (e as { details?: unknown }).details
                ? `\n${String((e as { details?: unknown }).details)}`
                : ""
            }`,
          );
        }
        assert.equal(unhandled, [], "no unhandledRejection");
      }),
      params(runs),
    );
  } finally {
    process.off("unhandledRejection", onUnhandled);
    await done();
  }
}

test(`memory: ${RUNS} random interleavings keep every acknowledgement true`, async () => {
  await property("memory", async () => {
    const log = memoryLog();
    return { log, done: () => log.close() };
  }, RUNS);
});

test(`LevelDB: ${RUNS} random interleavings keep every acknowledgement true`, async () => {
  await property("level", async () => {
    const dir = await tempDir();
    const log = await levelLog(dir.path, { durability: "os" });
    return {
      log,
      done: async () => {
        await log.close();
        await dir.remove();
      },
    };
  }, RUNS);
});

test.run();
