/**
 * State checkpoints: saved and loaded across a reopen, listed newest first, size-limited,
 * reset-aware, trimmed by retention (never the latest).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { levelLog } from "../../adapters/level.ts";
import { MAX_CHECKPOINT_BYTES } from "../../core/checkpoints.ts";
import { CkptError } from "../../core/errors.ts";
import { Store } from "../../core/store.ts";
import { tempDir } from "../helpers/tmp.ts";

async function withStore(fn: (open: () => Promise<Store>) => Promise<void>): Promise<void> {
  const dir = await tempDir("ckpt-checkpoints-");
  try {
    await fn(async () => new Store(await levelLog(dir.path)));
  } finally {
    await dir.remove();
  }
}

const code = async (p: Promise<unknown> | (() => unknown)) => {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    return (e as CkptError).code;
  }
  return "no error";
};

test("save, reopen, load the latest and continue", async () => {
  await withStore(async (open) => {
    let store = await open();
    let run = await store.stage("train").begin();
    for (let step = 0; step < 5; step++) {
      await run.checkpoint({ step, weights: [step, step * 2], tag: new Uint8Array([step]) }, {
        step,
        metadata: { loss: 1 / (step + 1) },
      });
    }
    await run.error("a non-fatal hiccup"); // other events between checkpoints are skipped over
    await store.close();
    store = await open();
    const stage = store.stage("train");
    const cp = await stage.latest<{ step: number; weights: number[]; tag: Uint8Array }>();
    assert.ok(cp);
    assert.is(cp.step, 4);
    assert.equal(cp.state.weights, [4, 8]);
    assert.equal([...cp.state.tag], [4]);
    assert.equal(cp.metadata, { loss: 0.2 });
    run = await stage.begin();
    await run.checkpoint({ step: 5 }, { step: 5 });
    const list = await stage.checkpoints({ limit: 3 });
    assert.equal(list.map((c) => c.step), [5, 4, 3]);
    assert.not.ok("state" in list[0]!);
    assert.ok(list[0]!.bytes > 0 && list[0]!.revision > list[1]!.revision);
    await run.complete();
    await store.close();
  });
});

test("bad checkpoints are refused with a code and nothing is written", async () => {
  await withStore(async (open) => {
    const store = await open();
    const stage = store.stage("s");
    const run = await stage.begin();
    const head = (await stage.state()).revision;
    assert.is(
      await code(() => run.checkpoint(new Uint8Array(MAX_CHECKPOINT_BYTES + 1))),
      "CKPT_TOO_LARGE",
    );
    assert.is(await code(() => run.checkpoint(undefined)), "CKPT_INVALID");
    assert.is(await code(() => run.checkpoint({}, { step: -1 })), "CKPT_INVALID");
    assert.is(await code(() => run.checkpoint({}, { step: 1.5 })), "CKPT_INVALID");
    assert.is(await code(() => stage.checkpoints({ limit: 0 })), "CKPT_INVALID");
    assert.is((await stage.state()).revision, head);
    assert.is(await stage.latest(), undefined);
    await run.pause();
    assert.is(await code(run.checkpoint({ a: 1 })), "CKPT_BAD_TRANSITION"); // only a running stage saves
    await store.close();
  });
});

test("a reset hides the checkpoints saved before it", async () => {
  await withStore(async (open) => {
    const store = await open();
    const stage = store.stage("s");
    const run = await stage.begin();
    await run.checkpoint({ old: true }, { step: 1 });
    await run.pause();
    await run.close();
    await stage.reset();
    assert.is(await stage.latest(), undefined);
    assert.equal(await stage.checkpoints(), []);
    await store.close();
  });
});

test("retention keeps the last N checkpoints (and never the latest, whatever its age)", async () => {
  await withStore(async (open) => {
    const store = await open();
    const stage = store.stage("loop");
    const run = await stage.begin();
    for (let step = 0; step < 15; step++) {
      await run.done(step);
      await run.checkpoint({ step }, { step });
    }
    await run.pause();
    await run.close();
    const before = await stage.state();
    // Without a checkpoint rule, an age cut past every event still keeps the default 10.
    let report = await store.compact({ maxAgeMs: 0, minEvents: 0 });
    assert.equal((await stage.checkpoints()).map((c) => c.step), [
      14,
      13,
      12,
      11,
      10,
      9,
      8,
      7,
      6,
      5,
    ]);
    report = await store.compact({ keepCheckpoints: 3, minEvents: 0 });
    assert.is(report.stages[0]!.action, "compacted");
    assert.equal((await stage.checkpoints()).map((c) => c.step), [14, 13, 12]);
    assert.equal((await stage.state()).counters, before.counters); // the folded events still count
    // A TTL of 0 removes every checkpoint but the latest.
    await store.compact({ checkpointTtlMs: 0, minEvents: 0 });
    assert.equal((await stage.checkpoints()).map((c) => c.step), [14]);
    assert.equal((await stage.latest())?.state, { step: 14 });
    assert.is(await code(store.compact({ keepCheckpoints: 0 })), "CKPT_INVALID");
    await store.close();
  });
});

test.run();
