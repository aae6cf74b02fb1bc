/**
 * A failed append is sticky: every later flush, done, mark and close rejects with it (coded, with
 * its cause) until the stage is begun again. And a waiting mark() or done() never lies.
 */
import process from "node:process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { memoryLog } from "../../adapters/memory.ts";
import { rangeCount } from "../../core/resume-set.ts";
import { Store } from "../../core/store.ts";
import { faultyLog } from "../helpers/faulty-log.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { plain } from "../helpers/plain-errors.ts";

const codeOf = (p: Promise<unknown> | undefined) =>
  Promise.resolve(p).then(() => "resolved", (e: { code?: string }) => e.code ?? String(e));

test(
  "a failed background append: later flush(), store.flush(), done(), mark() and close() all reject with it",
  plain(async () => {
    const inner = memoryLog();
    const { log } = faultyLog(inner, [3]); // 1: run.started, 2: item 0, 3: item 1 fails
    const store = new Store(log);
    const run = await store.stage("s").begin();
    await run.done(0);
    run.mark(1); // not awaited: its append fails in the background
    assert.is(await codeOf(run.flush()), "CKPT_IO");
    assert.is(
      await codeOf(run.flush()),
      "CKPT_IO",
      "flush() again: still the same error (it resolved before the fix)",
    );
    assert.is(await codeOf(store.flush()), "CKPT_IO", "store.flush() too");
    assert.is(await codeOf(run.done(2)), "CKPT_IO", "done() refuses");
    let thrown: string | undefined;
    try {
      run.mark(3);
    } catch (e) {
      thrown = (e as { code?: string }).code;
    }
    assert.is(thrown, "CKPT_IO", "mark() throws it");
    assert.not.ok(run.isDone(1), "the lost item is not counted");
    assert.is(await codeOf(run.close()), "CKPT_IO", "run.close() rejects with it");
    // Beginning again reads back what landed and accepts events again.
    const again = await store.stage("s").begin();
    assert.ok(again.isDone(0));
    assert.not.ok(again.isDone(1));
    await again.done(1);
    await again.complete();
    const st = await new Store(inner).stage("s").state(); // read back from the log, not this store's writer
    assert.equal([st.status, st.counters.processed], ["completed", 2]);
    await store.close();
  }),
);

test(
  "store.close() with a pending append failing rejects (and still closes)",
  plain(async () => {
    const { log } = faultyLog(memoryLog(), [3]);
    const store = new Store(log);
    const run = await store.stage("s").begin();
    await run.done(0);
    run.mark(1);
    assert.is(await codeOf(store.close()), "CKPT_IO", "it resolved before the fix");
    assert.ok(store.closed);
  }),
);

test(
  "a waiting mark() resolves only once the item is recorded; done() past maxRanges waits for room",
  plain(async () => {
    const inner = memoryLog();
    const store = new Store(inner, { maxRanges: 1, sparseTimeoutMs: 60_000 });
    const run = await store.stage("m").begin();
    await run.done(5); // one range beyond the watermark: [5]
    const wait = run.mark(9); // a second range: must wait for room
    assert.ok(wait, "mark(9) asks the caller to wait");
    let settled = false;
    void wait!.then(() => (settled = true));
    await run.flush();
    assert.not.ok(settled, "still waiting: no room yet");
    assert.not.ok(run.isDone(9));
    const other = run.mark(20); // a third range: waits too, and is woken by the same commit as mark(9)
    assert.ok(other);
    let otherSettled = false;
    const otherDone = other!.then(() => (otherSettled = true));
    const waits = [0, 1, 2, 3, 4].map((i) => run.done(i)); // fills the gap below 5: the watermark reaches 6
    await Promise.all(waits);
    await wait;
    assert.ok(run.isDone(9), "resolved ⇒ recorded");
    await run.flush();
    // mark(9) took the one free range, so mark(20) has no room yet: it must still be waiting, not
    // resolved (before the fix its wait resolved here while isDone(20) stayed false).
    assert.is(otherSettled, run.isDone(20), "mark(20)'s wait resolved ⇔ item 20 recorded");
    for (let i = 6; i < 9; i++) await run.done(i); // closes the range at 9: room for 20
    await otherDone;
    assert.ok(run.isDone(20));
    await run.flush();
    const st = await store.stage("m").state();
    assert.ok(
      rangeCount(st.resume) <= 1,
      `at most maxRanges ranges, got ${JSON.stringify(st.resume.ranges)}`,
    );
    await run.complete();
    await store.close();
  }),
);

test(
  "a mark() and a done() waiting for room reject with the sticky error as soon as an append fails (not after sparseTimeoutMs)",
  plain(async () => {
    const { log } = faultyLog(memoryLog(), [4]); // 1: run.started, 2: item 5, 3: item 0, 4: item 1 fails
    const clock = manualClock(); // time never advances: only the failure can end the waits
    const store = new Store(log, { maxRanges: 1, sparseTimeoutMs: 60_000, clock });
    const run = await store.stage("w").begin();
    await run.done(5);
    await run.done(0);
    const marked = codeOf(run.mark(9)); // no room beyond [5]: waits
    const done = codeOf(run.done(12)); // waits too
    run.mark(1); // its append fails in the background
    assert.is(
      await marked,
      "CKPT_IO",
      "the waiting mark() rejects with the append's error (it waited for the timeout before)",
    );
    assert.is(await done, "CKPT_IO", "the waiting done() too");
    assert.is(
      await codeOf(run.mark(15)),
      "CKPT_IO",
      "a wait begun once the writer failed rejects at once",
    );
    assert.not.ok(run.isDone(9) || run.isDone(12));
    await store.close().catch(() => undefined);
  }),
);

test(
  "several done() waiting for room never exceed maxRanges",
  plain(async () => {
    const store = new Store(memoryLog(), { maxRanges: 1, sparseTimeoutMs: 60_000 });
    const run = await store.stage("r").begin();
    await run.done(10);
    let most = 0;
    const sample = () => (most = Math.max(most, rangeCount(run.state.resume)));
    const waiting = [20, 30, 40].map((i) => run.done(i).then(sample)); // each would open a range of its own
    for (let i = 0; i < 41; i++) {
      if (![10, 20, 30, 40].includes(i)) await run.done(i);
      sample();
    }
    await Promise.all(waiting);
    assert.ok(most <= 1, `ranges peaked at ${most}`);
    for (const i of [10, 20, 30, 40]) assert.ok(run.isDone(i));
    await run.complete();
    await store.close();
  }),
);

test(
  "a mark() whose wait times out rejects with CKPT_TOO_SPARSE through the returned promise (no unhandled rejection)",
  plain(async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    const clock = manualClock();
    const store = new Store(memoryLog(), { maxRanges: 1, sparseTimeoutMs: 20, clock });
    const run = await store.stage("t").begin();
    await run.done(5);
    const wait = run.mark(9);
    clock.advance(20);
    assert.is(await codeOf(wait), "CKPT_TOO_SPARSE");
    assert.not.ok(run.isDone(9));
    await new Promise((r) => setTimeout(r, 0)); // one macrotask: a stray rejection would surface now
    process.off("unhandledRejection", onUnhandled);
    assert.equal(unhandled, []);
    await run.complete();
    await store.close();
  }),
);

test.run();
