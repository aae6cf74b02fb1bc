/**
 * The EventLog contract suite (`ckpt/testing`): every adapter runs it (memory, LevelDB,
 * EventStoreDB via the protocol double, HTTP via a real sidecar, PostgreSQL), and so can yours.
 * Quirks come from `log.supports` and the options, never from names. It registers uvu suites, so
 * uvu is a peer dependency: your test file and this suite must share one uvu.
 * @example contractSuite("level", async () => { const dir = await tmp(); return { log: await levelLog(dir), reopen, cleanup: () => rm(dir) } }, { durable: true })
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { CkptEvent } from "../core/events.ts";
import type { EventLog, RecordedEvent } from "../core/log.ts";
import { Store } from "../core/store.ts";
import { storeContract } from "./store.ts";

export interface ContractFixture {
  log: EventLog;
  /** Closes `log` and opens the same data again (durable adapters). */
  reopen?: () => Promise<EventLog>;
  cleanup(): Promise<void>;
}

export type Factory = () => Promise<ContractFixture>;

let clock = 1_700_000_000_000;
export const item = (
  index: number,
  extra: Partial<Extract<CkptEvent, { type: "item" }>> = {},
): CkptEvent => ({
  type: "item",
  v: 1,
  at: clock++,
  index,
  outcome: "ok",
  ...extra,
});
const started = (runId = "r1"): CkptEvent => ({
  type: "run.started",
  v: 1,
  at: clock++,
  runId,
  total: 10,
});

export async function collect(it: AsyncIterable<RecordedEvent>): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.is((e as { code?: string }).code, code, (e as Error).message);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

export interface ContractOptions {
  /**
   * The log keeps acknowledged writes across a reopen (`supports.durable`); the fixture then has
   * `reopen`.
   */
  durable: boolean;
}

export function contractSuite(name: string, factory: Factory, options: ContractOptions): void {
  const test = suite(`contract: ${name}`);
  let fx: ContractFixture;
  test.before.each(async () => {
    fx = await factory();
  });
  test.after.each(async () => {
    await fx.log.close().catch(() => undefined);
    await fx.cleanup();
  });

  test("a new stream starts at no_stream and numbers events from 0", async () => {
    assert.is(await fx.log.info("s1"), undefined);
    const r = await fx.log.append("s1", [started(), item(0), item(1)], {
      expectedRevision: "no_stream",
    });
    assert.is(r.head, 2);
    const got = await collect(fx.log.read("s1"));
    assert.equal(got.map((g) => g.revision), [0, 1, 2]);
    assert.equal(got.map((g) => g.event.type), ["run.started", "item", "item"]);
    assert.is((await fx.log.info("s1"))?.head, 2);
    assert.is((await fx.log.info("s1"))?.first, 0);
  });

  test("events round-trip exactly, every type", async () => {
    const events: CkptEvent[] = [
      {
        type: "run.started",
        v: 1,
        at: 1,
        runId: "r",
        owner: { host: "h", pid: 7, runId: "r" },
        total: 3,
        input: "a".repeat(64),
        config: "b".repeat(64),
        leaseMs: 1000,
      },
      {
        type: "item",
        v: 1,
        at: 2,
        index: 0,
        outcome: "failed",
        item: "https://x/é?q=1",
        batch: "b1",
        cost: 0.25,
        error: "boom",
      },
      { type: "item.reopened", v: 1, at: 3, index: 0, reason: "gone" },
      {
        type: "progress",
        v: 1,
        at: 4,
        total: 9,
        ok: 2,
        failed: 1,
        skipped: 0,
        cost: 1.5,
        message: "m",
      },
      {
        type: "unit",
        v: 1,
        at: 5,
        key: "org/repo:pulls",
        status: "failed",
        page: 3,
        records: 40,
        retryable: true,
        error: "429",
      },
      { type: "error", v: 1, at: 6, message: "e", retryable: false, index: 4, item: "x" },
      { type: "paused", v: 1, at: 7, reason: "SIGINT" },
      { type: "resumed", v: 1, at: 8 },
      { type: "metadata", v: 1, at: 9, metadata: { model: "m", nested: { n: [1, 2] } } },
      { type: "heartbeat", v: 1, at: 10, runId: "r" },
      { type: "crash.detected", v: 1, at: 11, runId: "r", reason: "gone" },
      { type: "failed", v: 1, at: 12, message: "bad", retryable: true },
      { type: "reset", v: 1, at: 13 },
      { type: "completed", v: 1, at: 14, metadata: { a: 1 } },
    ];
    await fx.log.append("all", events, { expectedRevision: "no_stream" });
    const got = await collect(fx.log.read("all"));
    assert.equal(got.map((g) => g.event), events);
  });

  test("a wrong expected revision is CKPT_CONFLICT and writes nothing", async () => {
    await fx.log.append("s", [item(0)], { expectedRevision: "no_stream" });
    await expectCode(
      fx.log.append("s", [item(1)], { expectedRevision: "no_stream" }),
      "CKPT_CONFLICT",
    );
    await expectCode(fx.log.append("s", [item(1)], { expectedRevision: 5 }), "CKPT_CONFLICT");
    await expectCode(fx.log.append("new", [item(1)], { expectedRevision: 0 }), "CKPT_CONFLICT");
    assert.is((await collect(fx.log.read("s"))).length, 1);
    assert.is(await fx.log.info("new"), undefined);
    const r = await fx.log.append("s", [item(1)], { expectedRevision: 0 });
    assert.is(r.head, 1);
    const any = await fx.log.append("s", [item(2)], { expectedRevision: "any" });
    assert.is(any.head, 2);
  });

  test("concurrent appends at the same revision: exactly one wins", async () => {
    await fx.log.append("race", [item(0)], { expectedRevision: "no_stream" });
    const results = await Promise.allSettled(
      [0, 1, 2, 3].map((k) => fx.log.append("race", [item(10 + k)], { expectedRevision: 0 })),
    );
    assert.is(results.filter((r) => r.status === "fulfilled").length, 1);
    for (const r of results) {
      if (r.status === "rejected") {
        assert.is((r.reason as { code: string }).code, "CKPT_CONFLICT");
      }
    }
    assert.is((await collect(fx.log.read("race"))).length, 2);
  });

  test("read honours from, limit and direction across appends", async () => {
    let head: number | "no_stream" = "no_stream";
    for (let k = 0; k < 5; k++) {
      const batch = Array.from({ length: 7 }, (_, j) => item(k * 7 + j));
      head = (await fx.log.append("r", batch, { expectedRevision: head })).head;
    }
    const all = await collect(fx.log.read("r"));
    assert.equal(all.map((e) => e.revision), Array.from({ length: 35 }, (_, i) => i));
    assert.equal(
      all.map((e) => (e.event as { index: number }).index),
      Array.from({ length: 35 }, (_, i) => i),
    );
    assert.equal((await collect(fx.log.read("r", { from: 10, limit: 5 }))).map((e) => e.revision), [
      10,
      11,
      12,
      13,
      14,
    ]);
    assert.equal(
      (await collect(fx.log.read("r", { direction: "backward", limit: 3 }))).map((e) => e.revision),
      [34, 33, 32],
    );
    assert.equal(
      (await collect(fx.log.read("r", { direction: "backward", from: 8, limit: 3 }))).map((e) =>
        e.revision
      ),
      [8, 7, 6],
    );
    assert.equal(await collect(fx.log.read("r", { from: 35 })), []);
    assert.equal(await collect(fx.log.read("missing")), []);
  });

  test("streams() lists what exists, sorted, filtered by prefix", async () => {
    for (const s of ["b-2", "a-1", "b-1"]) {
      await fx.log.append(s, [item(0), item(1)], { expectedRevision: "no_stream" });
    }
    const all = await fx.log.streams();
    assert.equal(all.map((s) => s.stream), ["a-1", "b-1", "b-2"]);
    assert.equal(all.map((s) => s.head), [1, 1, 1]);
    assert.ok(all.every((s) => s.updatedAt > 0));
    assert.equal((await fx.log.streams({ prefix: "b-" })).map((s) => s.stream), ["b-1", "b-2"]);
    assert.equal(await fx.log.streams({ prefix: "zz" }), []);
  });

  test("snapshots: latest wins, never ahead of the events", async () => {
    await fx.log.append("snap", [item(0), item(1), item(2)], { expectedRevision: "no_stream" });
    assert.is(await fx.log.loadSnapshot("snap"), undefined);
    await fx.log.saveSnapshot("snap", {
      revision: 1,
      version: 1,
      state: { n: 1, nested: { a: [1] } },
    });
    assert.equal(await fx.log.loadSnapshot("snap"), {
      revision: 1,
      version: 1,
      state: { n: 1, nested: { a: [1] } },
    });
    await fx.log.saveSnapshot("snap", { revision: 0, version: 1, state: { n: 0 } }); // older: ignored
    assert.is((await fx.log.loadSnapshot("snap"))?.revision, 1);
    await fx.log.saveSnapshot("snap", { revision: 9, version: 1, state: { n: 9 } }); // ahead: ignored
    assert.is((await fx.log.loadSnapshot("snap"))?.revision, 1);
  });

  test("append with a snapshot stores both", async () => {
    await fx.log.append("as", [item(0), item(1)], {
      expectedRevision: "no_stream",
      snapshot: { revision: 1, version: 1, state: { k: "v" } },
    });
    const snap = await fx.log.loadSnapshot("as");
    assert.is(snap?.revision, 1);
    assert.equal(snap?.state, { k: "v" });
  });

  test("truncateBefore keeps later events and stores the base snapshot", async () => {
    let head: number | "no_stream" = "no_stream";
    for (let k = 0; k < 4; k++) {
      head =
        (await fx.log.append("t", [item(2 * k), item(2 * k + 1)], { expectedRevision: head })).head;
    }
    await fx.log.truncateBefore("t", 5, { revision: 4, version: 1, state: { base: true } });
    const info = await fx.log.info("t");
    assert.is(info?.first, 5);
    assert.is(info?.head, 7);
    assert.equal((await collect(fx.log.read("t"))).map((e) => e.revision), [5, 6, 7]);
    assert.equal(
      (await collect(fx.log.read("t", { direction: "backward" }))).map((e) => e.revision),
      [7, 6, 5],
    );
    assert.equal((await fx.log.loadSnapshot("t", "base"))?.state, { base: true });
    assert.is(
      (await fx.log.loadSnapshot("t"))?.revision,
      4,
      "latest snapshot was older, so the base replaces it",
    );
    const r = await fx.log.append("t", [item(8)], { expectedRevision: 7 });
    assert.is(r.head, 8, "revisions keep counting after truncation");
  });

  test("delete removes the stream; it can start again from no_stream", async () => {
    await fx.log.append("d", [item(0)], {
      expectedRevision: "no_stream",
      snapshot: { revision: 0, version: 1, state: {} },
    });
    await fx.log.append("keep", [item(0)], { expectedRevision: "no_stream" });
    await fx.log.delete("d");
    assert.is(await fx.log.info("d"), undefined);
    assert.equal(await collect(fx.log.read("d")), []);
    assert.equal((await fx.log.streams()).map((s) => s.stream), ["keep"]);
    const r = await fx.log.append("d", [item(5)], { expectedRevision: "no_stream" });
    assert.is(r.head, 0);
  });

  test("truncateBefore and delete with a stale expected revision are CKPT_CONFLICT and change nothing", async () => {
    const a = await fx.log.append("x", [item(0), item(1), item(2)], {
      expectedRevision: "no_stream",
    });
    const base = { revision: 1, version: 1, state: { base: true } };
    await expectCode(
      fx.log.truncateBefore("x", 2, base, { expectedRevision: a.head - 1 }),
      "CKPT_CONFLICT",
    );
    await expectCode(
      fx.log.truncateBefore("x", 2, base, { expectedRevision: "no_stream" }),
      "CKPT_CONFLICT",
    );
    await expectCode(fx.log.delete("x", { expectedRevision: a.head + 1 }), "CKPT_CONFLICT");
    await expectCode(fx.log.delete("x", { expectedRevision: "no_stream" }), "CKPT_CONFLICT");
    await expectCode(fx.log.delete("missing", { expectedRevision: 0 }), "CKPT_CONFLICT");
    assert.equal(
      (await collect(fx.log.read("x"))).map((e) => e.revision),
      [0, 1, 2],
      "nothing removed",
    );
    assert.is((await fx.log.info("x"))?.first, 0);
    await fx.log.truncateBefore("x", 2, base, { expectedRevision: a.head });
    assert.is((await fx.log.info("x"))?.first, 2);
    await fx.log.delete("x", { expectedRevision: a.head });
    assert.is(await fx.log.info("x"), undefined);
    await fx.log.delete("x", { expectedRevision: "no_stream" }); // nothing there, as expected
  });

  test("a delete racing appends to the same stream leaves either the whole stream or none of it", async () => {
    await fx.log.append("r", [item(0)], { expectedRevision: "no_stream" });
    // Appends expecting "any" land before or after the delete, never half deleted (no orphan events
    // under a missing head).
    const appends = [1, 2, 3].map((i) =>
      fx.log.append("r", [item(i)], { expectedRevision: "any" }).catch((e: unknown) => e)
    );
    const deleted = fx.log.delete("r");
    await Promise.all([...appends, deleted]);
    const info = await fx.log.info("r");
    const events = await collect(fx.log.read("r"));
    if (info === undefined) assert.equal(events, []);
    else {
      assert.is(
        events.length,
        info.head - info.first + 1,
        "every event under the head is readable",
      );
      assert.equal(
        events.map((e) => e.revision),
        Array.from({ length: events.length }, (_, k) => info.first + k),
      );
    }
  });

  test("after close, calls fail with CKPT_CLOSED", async () => {
    await fx.log.close();
    await expectCode(fx.log.append("x", [item(0)], { expectedRevision: "any" }), "CKPT_CLOSED");
  });

  test("supports.durable says what the suite was told", async () => {
    assert.is(
      fx.log.supports.durable,
      options.durable,
      "the manifest and the suite's durability test agree",
    );
    assert.is(typeof fx.reopen === "function", options.durable, "durable fixtures can reopen");
  });

  // A named skip the runner counts, not a test that passes by returning early.
  const durableTest = options.durable ? test : test.skip;
  if (!options.durable) {
    console.log(
      `skipped: contract: ${name}: reopening sees every acknowledged event (the log is not durable)`,
    );
  }
  durableTest(
    "durable adapters: reopening sees every acknowledged event and snapshot",
    async () => {
      await fx.log.append("p", [started(), item(0), item(1)], {
        expectedRevision: "no_stream",
        snapshot: { revision: 2, version: 1, state: { s: 2 } },
      });
      const log = await fx.reopen!();
      fx.log = log;
      assert.equal((await collect(log.read("p"))).map((e) => e.revision), [0, 1, 2]);
      assert.is((await log.loadSnapshot("p"))?.revision, 2);
      assert.is((await log.append("p", [item(2)], { expectedRevision: 2 })).head, 3);
    },
  );

  test("the store works end to end on this log", async () => {
    const store = new Store(fx.log, { snapshotEvery: 5 });
    await storeContract(
      store,
      fx.reopen
        ? async () => new Store(fx.log = await fx.reopen!(), { snapshotEvery: 5 })
        : undefined,
    );
  });

  test.run();
}
