/** Locks the public surface: an export added or removed shows up in this diff. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as ckpt from "../mod.ts";

test("mod.ts exports exactly this", () => {
  assert.equal(Object.keys(ckpt).sort(), [
    "CkptError",
    "CkptEvent",
    "EVENT_TYPES",
    "ErrorCode",
    "REDUCER_VERSION",
    "Run",
    "Stage",
    "Status",
    "Store",
    "canonicalJson",
    "checkStageName",
    "configDigest",
    "connectHttpLog",
    "evolve",
    "handleSignals",
    "httpLog",
    "initialState",
    "isCkptError",
    "isDone",
    "levelLog",
    "memoryLog",
    "open",
    "parseDuration",
    "parseEvent",
    "progressOf",
    "sha256",
    "shutdown",
  ]);
});

test("every error code is CKPT_ prefixed and unique", () => {
  const codes = Object.values(ckpt.ErrorCode);
  assert.ok(codes.every((c) => c.startsWith("CKPT_")));
  assert.is(new Set(codes).size, codes.length);
});

test("Store and Stage: the documented methods work (behaviour, not private names)", async () => {
  const store = await ckpt.open({ memory: true });
  const stage = store.stage("surface");
  assert.ok(stage instanceof ckpt.Stage);
  assert.is(await stage.exists(), false);
  const run = await stage.begin({ total: 2 });
  await run.done(0);
  await store.flush();
  assert.is((await stage.state()).counters.processed, 1);
  assert.is(store.activeRuns().length, 1);
  await run.complete();
  assert.equal((await store.stages()).map((s) => s.stage), ["surface"]);
  assert.is((await stage.history()).runs.length, 1);
  const replayed: number[] = [];
  for await (const e of stage.replay()) replayed.push(e.revision);
  assert.equal(replayed, [0, 1, 2]);
  assert.is((await store.compact({ maxEvents: 1, minEvents: 0, dryRun: true })).dryRun, true);
  await stage.reset();
  await stage.delete();
  assert.is(await stage.exists(), false);
  assert.ok(typeof stage.watch === "function");
  assert.equal(await stage.checkpoints(), []);
  assert.is(await stage.latest(), undefined);
  await store.close();
  assert.is(store.closed, true);
});

test.run();
