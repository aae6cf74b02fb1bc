/**
 * Every public entry × wrong types, nulls, negatives, NaN, huge and deep values: each call is
 * refused with CKPT_INVALID (never a hang, never a TypeError) and nothing reaches the log.
 * Also values that cannot be encoded (functions, symbols, circular data): refused at the call,
 * and the run carries on as if the call never happened.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { levelLog } from "../../adapters/level.ts";
import { memoryLog } from "../../adapters/memory.ts";
import { Store } from "../../core/store.ts";
import { DATA_LIMITS } from "../../core/validate.ts";
import { open } from "../../mod.ts";
import { countingLog } from "../helpers/counting-log.ts";
import { plain } from "../helpers/plain-errors.ts";
import { tempDir } from "../helpers/tmp.ts";

type Any = any; // the point of this file is calling the API with what its types forbid

const circular = (): Record<string, unknown> => {
  const o: Record<string, unknown> = { a: 1 };
  o.self = o;
  return o;
};
const deep = (n: number): unknown => (n === 0 ? 1 : { d: deep(n - 1) });
const HUGE = "x".repeat(DATA_LIMITS.string + 1);
const MANY = Array.from({ length: DATA_LIMITS.values + 1 }, (_, i) => i);

/** Values that are wrong for any options object. */
const NOT_OBJECTS: Any[] = [null, "x", 5, true, [1], NaN];
/** Values that are wrong for a count (whole number ≥ 0). */
const BAD_COUNTS: Any[] = [-1, 1.5, NaN, Infinity, "3", null, 2 ** 60, {}];
/** Values that are wrong as user data (metadata, config). */
const BAD_DATA: Any[] = [
  { f: () => 1 },
  { s: Symbol("x") },
  circular(),
  deep(DATA_LIMITS.depth + 2),
  { big: 1n },
  { n: NaN },
  { inf: -Infinity },
  { d: new Date(0) },
  { m: new Map() },
  { h: HUGE },
  { many: MANY },
];

async function codeOf(call: () => unknown): Promise<string> {
  try {
    await call();
    return "accepted";
  } catch (e) {
    return (e as { code?: string }).code ??
      `uncoded ${(e as Error)?.name}: ${(e as Error)?.message}`;
  }
}

test(
  "every public entry × bad values: CKPT_INVALID, nothing written",
  plain(async () => {
    const { log, counts } = countingLog(memoryLog());
    const store = new Store(log);
    const run = await store.stage("ok").begin({ total: 10 });
    await run.done(0);
    const unit = run.unit("u");
    const stage = store.stage("other");
    const written = counts.appended;
    const rows: Array<[string, Any[], (v: Any) => unknown]> = [
      ["open(options)", NOT_OBJECTS, (v) => open(v)],
      ["open({ maxBatch })", [0, -1, NaN, "9"], (v) => open({ memory: true, maxBatch: v })],
      ["open({ highWater })", [0, -1, 1.5], (v) => open({ memory: true, highWater: v })],
      ["open({ maxRanges })", [0, -1, NaN], (v) => open({ memory: true, maxRanges: v })],
      ["open({ snapshotEvery })", [0, -1, NaN], (v) => open({ memory: true, snapshotEvery: v })],
      [
        "open({ durability })",
        ["fast", "SYNC", 1, null],
        (v) => open({ memory: true, durability: v }),
      ],
      ["open({ memory })", ["yes", 1, null], (v) => open({ memory: v })],
      ["open(two targets)", [
        { path: "./x", url: "http://127.0.0.1:1" },
        { path: "./x", memory: true },
        { path: "./x", eventstore: "esdb://h:2113" },
        { memory: true, log: memoryLog() },
      ], (v) => open(v)],
      ["open({ unknown })", [{ memory: true, maxbatch: 5 }], (v) => open(v)],
      ["new Store(log, options)", [{ maxBatch: 0 }, { highWater: -1 }, { maxRanges: -1 }, {
        sparseTimeoutMs: NaN,
      }], (v) => new Store(memoryLog(), v)],
      ["store.stage(name)", [5, null, "", "a/b", "x".repeat(201)], (v) => store.stage(v)],
      [
        "store.stages(options)",
        [...NOT_OBJECTS, { status: "nope" }, { prefix: 5 }],
        (v) => store.stages(v),
      ],
      ["store.compact(policy)", [...NOT_OBJECTS, {}, { maxEvents: -1 }, { maxAgeMs: NaN }, {
        prefix: 5,
        maxEvents: 1,
      }, { dryRun: "yes", maxEvents: 1 }], (v) => store.compact(v)],
      [
        "store.compact(policy, options)",
        [...NOT_OBJECTS, { onProgress: 5 }],
        (v) => store.compact({ maxEvents: 1 }, v),
      ],
      ["stage.begin(options)", [
        ...NOT_OBJECTS,
        { total: -1 },
        { total: NaN },
        { input: { file: 5 } },
        { input: 5 },
        { input: { sha256: "nothex" } },
        { onChange: "maybe" },
        { leaseMs: 0 },
        { verify: 5 },
        { join: "yes" },
        { totl: 5 },
      ], (v) => stage.begin(v)],
      ["stage.begin({ config })", BAD_DATA, (v) => stage.begin({ config: v })],
      [
        "stage.replay(options)",
        [...NOT_OBJECTS, { from: -1 }, { since: NaN }],
        (v) => stage.replay(v).next(),
      ],
      [
        "stage.watch(options)",
        [...NOT_OBJECTS, { pollMs: 0 }, { signal: 5 }],
        (v) => stage.watch(v).next(),
      ],
      ["stage.reset(options)", [...NOT_OBJECTS, { reason: 5 }], (v) => stage.reset(v)],
      ["stage.delete(options)", [...NOT_OBJECTS, { expectedRevision: -1 }, {
        expectedRevision: "latest",
      }], (v) => stage.delete(v)],
      ["run.done(index)", BAD_COUNTS, (v) => run.done(v)],
      ["run.done(i, options)", [...NOT_OBJECTS, { cost: -1 }, { cost: NaN }, { item: 5 }, {
        ok: "yes",
      }, { item: HUGE }], (v) => run.done(1, v)],
      ["run.mark(index)", BAD_COUNTS, (v) => run.mark(v)],
      ["run.mark(i, options)", [...NOT_OBJECTS, { skipped: 1 }], (v) => run.mark(1, v)],
      ["run.progress(p)", [
        ...NOT_OBJECTS,
        { total: -1 },
        { ok: NaN },
        { cost: -1 },
        { message: 5 },
        { tota: 1 },
      ], (v) => run.progress(v)],
      ["run.error(error)", [null, 5, {}, HUGE + HUGE], (v) => run.error(v)],
      [
        "run.error(e, options)",
        [...NOT_OBJECTS, { index: -1 }, { retryable: "no" }],
        (v) => run.error("e", v),
      ],
      ["run.metadata(m)", [...NOT_OBJECTS, ...BAD_DATA], (v) => run.metadata(v)],
      ["run.unit(key).page(n)", BAD_COUNTS, (v) => unit.page(v)],
      ["unit.page(n, options)", [...NOT_OBJECTS, { records: -1 }], (v) => unit.page(1, v)],
      ["unit.complete(options)", [...NOT_OBJECTS, { records: NaN }], (v) => unit.complete(v)],
      ["unit.fail(error, options)", [null, 5], (v) => unit.fail(v)],
      ["run.unit(key)", ["", 5, null, "k".repeat(257)], (v) => run.unit(v).page(1)],
      ["run.pause(reason)", [5, null, {}, HUGE], (v) => run.pause(v)],
      ["run.complete(metadata)", [null, "x", ...BAD_DATA], (v) => run.complete(v)],
      ["run.fail(error, options)", [null, 5], (v) => run.fail(v)],
      ["run.checkpoint(state)", [
        undefined,
        () => 1,
        { f: () => 1 },
        [1, { g: () => 2 }],
        new Map([["k", () => 3]]),
        Symbol("x"),
        circular(),
      ], (v) => run.checkpoint(v)],
      ["run.checkpoint(s, options)", [...NOT_OBJECTS, { step: -1 }, { step: 1.5 }, {
        metadata: { f: () => 1 },
      }, { stp: 1 }], (v) => run.checkpoint({ w: 1 }, v)],
      [
        "stage.checkpoints(options)",
        [...NOT_OBJECTS, { limit: 0 }, { limit: "x" }],
        (v) => stage.checkpoints(v),
      ],
    ];
    const wrong: string[] = [];
    for (const [entry, values, call] of rows) {
      for (const v of values) {
        const got = await codeOf(() => call(v));
        if (got !== "CKPT_INVALID") {
          wrong.push(`${entry} with ${describe(v)}: ${got}`);
        }
      }
    }
    assert.equal(wrong, [], wrong.join("\n"));
    assert.is(counts.appended, written, "nothing was written");
    // The run is still fine: the refused calls changed nothing.
    await run.done(1);
    await run.pause();
    assert.equal([run.state.status, run.state.counters.processed], ["paused", 2]);
    await store.close();
  }),
);

test(
  "values that cannot be encoded are refused at the call; the run carries on; reopened metadata is intact (LevelDB)",
  plain(async () => {
    const dir = await tempDir();
    const store = new Store(await levelLog(dir.path));
    const run = await store.stage("m").begin();
    await run.metadata({ keep: "me" });
    for (const bad of [{ f: () => 1 }, circular(), { s: Symbol("x") }, { b: 2n }]) {
      assert.is(await codeOf(() => run.metadata(bad)), "CKPT_INVALID");
      assert.is(await codeOf(() => run.complete(bad)), "CKPT_INVALID");
    }
    // Before the fix: the next pause() died with DataCloneError, or done() failed with
    // CKPT_CONFLICT.
    await run.done(0);
    await run.pause();
    await run.close();
    await store.close();
    const again = new Store(await levelLog(dir.path));
    const st = await again.stage("m").state();
    assert.equal(st.metadata, { keep: "me" });
    assert.equal([st.status, st.counters.processed], ["paused", 1]);
    await again.close();
    await dir.remove();
  }),
);

test(
  "level: an append whose encoding fails changes nothing (the next append at the same head succeeds)",
  plain(async () => {
    const dir = await tempDir();
    const log = await levelLog(dir.path);
    await log.append("e", [{ type: "reset", v: 1, at: 1 }], { expectedRevision: "no_stream" });
    const bad = { type: "metadata", v: 1, at: 2, metadata: { s: Symbol("x") } } as Any;
    assert.is(await codeOf(() => log.append("e", [bad], { expectedRevision: 0 })), "CKPT_INVALID");
    assert.is((await log.info("e"))?.head, 0, "the head did not move");
    const r = await log.append("e", [{ type: "reset", v: 1, at: 3 }], { expectedRevision: 0 }); // CKPT_CONFLICT before the fix
    assert.is(r.head, 1);
    await log.close();
    await dir.remove();
  }),
);

test(
  "progress({ total: undefined }) writes no undefined key",
  plain(async () => {
    const log = memoryLog();
    const store = new Store(log);
    const run = await store.stage("p").begin();
    await run.progress({ total: undefined, ok: 2 });
    const events: unknown[] = [];
    for await (const e of log.read("p")) events.push(e.event);
    const last = events[events.length - 1] as Record<string, unknown>;
    assert.not.ok("total" in last, JSON.stringify(last));
    await store.close();
  }),
);

function describe(v: unknown): string {
  if (typeof v === "string") {
    return v.length > 30 ? `a ${v.length}-character string` : JSON.stringify(v);
  }
  if (typeof v === "function" || typeof v === "symbol" || typeof v === "bigint") return String(v);
  try {
    const s = JSON.stringify(
      v,
      (
        _k,
        x,
      ) => (typeof x === "bigint" || typeof x === "symbol" || typeof x === "function"
        ? String(x)
        : x),
    );
    return s === undefined ? String(v) : s.length > 60 ? s.slice(0, 57) + "…" : s;
  } catch {
    return "a circular value";
  }
}

test.run();
