/**
 * The sidecar on a driven clock: held-run leases, the reaper, the compaction schedule, metrics
 * timestamps and staleness all read the store's clock, so a test moves time instead of sleeping.
 * A clock other than the store's, or one without timers, is refused.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { levelLog } from "../../adapters/level.ts";
import { memoryLog } from "../../adapters/memory.ts";
import { isCkptError } from "../../core/errors.ts";
import { createApp } from "../../server/app.ts";
import type { CompactionNotice } from "../../server/compaction-notice.ts";
import { startServer } from "../../server/index.ts";
import { serverStore } from "../../server/store.ts";
import { open } from "../../mod.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { tempDir } from "../helpers/tmp.ts";
import { eventually, json, sidecar } from "./helpers.ts";

// deno-lint-ignore no-explicit-any
const body = async (r: Response): Promise<any> => r.json();

test("a held run's lease runs on the clock: renewed by its client, released by the reaper once silent past it", async () => {
  const clock = manualClock();
  const s = await sidecar({ store: { clock }, app: { reapEveryMs: 1000 } });
  try {
    const call = (path: string, init?: RequestInit) => s.ckpt.app.request(path, init);
    const a = await body(
      await call("/v1/stages/held/runs", json("POST", { total: 10, leaseMs: 60_000 })),
    );
    const update = (runId: string, index: number) =>
      call(
        `/v1/stages/held/runs/${runId}/updates`,
        json("POST", { updates: [{ type: "item", index }] }),
      );
    clock.advance(59_000);
    assert.is((await update(a.runId, 0)).status, 200, "inside the lease: still held (and renewed)");
    clock.advance(59_000);
    assert.is(
      (await update(a.runId, 1)).status,
      200,
      "118 s after begin, but 59 s after its last update",
    );
    assert.is(s.ckpt.context.runs.size, 1);
    clock.advance(61_000); // the reaper ticks every 1 s of driven time
    assert.ok(
      await eventually(() => s.ckpt.context.runs.size === 0),
      "the reaper released the silent run",
    );
    const late = await update(a.runId, 2);
    assert.is(late.status, 409);
    assert.is((await body(late)).error.code, "CKPT_LEASE_LOST");
    const b = await call("/v1/stages/held/runs", json("POST", { total: 10, leaseMs: 60_000 }));
    assert.is(b.status, 201);
    const bb = await body(b);
    assert.equal(
      [bb.resumed.crashed, bb.resumed.skipped],
      [true, 2],
      "the next client finds the crash and resumes",
    );
    await call(`/v1/stages/held/runs/${bb.runId}`, { method: "DELETE" });
  } finally {
    await s.close();
  }
});

test("the compaction schedule ticks on the clock; /metrics stamps the last compaction with it", async () => {
  const clock = manualClock(1_800_000_000_000);
  const notices: CompactionNotice[] = [];
  const hour = 3_600_000;
  const s = await sidecar({
    store: { clock },
    app: {
      compaction: { everyMs: hour, policy: { maxEvents: 5, minEvents: 1 } },
      onCompaction: (n) => void notices.push(n),
    },
  });
  try {
    const run = await s.store.stage("finished").begin({ total: 20 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => run.done(i)));
    await run.complete();
    clock.advance(hour - 1);
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(notices, [], "nothing before the first interval has passed");
    clock.advance(1);
    assert.ok(await eventually(() => notices.length === 1), "one tick at start + everyMs");
    const n = notices[0]!;
    assert.ok(
      n.kind === "report" && n.trigger === "schedule" && n.report.stagesTouched === 1,
      JSON.stringify(n),
    );
    const metrics = await (await s.ckpt.app.request("/metrics")).text();
    assert.match(
      metrics,
      `ckpt_compaction_last_timestamp_seconds ${(1_800_000_000_000 + hour) / 1000}\n`,
    );
    assert.match(metrics, 'ckpt_compactions_total{trigger="schedule"} 1');
    clock.advance(hour);
    assert.ok(await eventually(() => notices.length === 2 || notices.length > 2));
    await s.ckpt.drain(1000);
    const after = notices.length;
    clock.advance(10 * hour);
    await new Promise((r) => setTimeout(r, 0));
    assert.is(notices.length, after, "drain cleared the timer");
  } finally {
    await s.close();
  }
});

test("stage summaries judge staleness by the clock: silent past staleAfterMs is stale, on the list and on /v1/report", async () => {
  const clock = manualClock();
  const s = await sidecar({ store: { clock, staleAfterMs: 120_000 } });
  try {
    const a = await body(
      await s.ckpt.app.request(
        "/v1/stages/quiet/runs",
        json("POST", { total: 10, leaseMs: 3_600_000 }),
      ),
    );
    const stale = async () =>
      (await body(await s.ckpt.app.request("/v1/stages"))).stages[0].progress.stale as boolean;
    assert.is(await stale(), false);
    clock.advance(119_000);
    assert.is(await stale(), false, "silent for less than staleAfterMs");
    clock.advance(2_000);
    assert.is(await stale(), true, "silent for longer");
    const report = await body(await s.ckpt.app.request("/v1/report"));
    assert.is(report.generatedAt, clock.now());
    await s.ckpt.app.request(`/v1/stages/quiet/runs/${a.runId}`, { method: "DELETE" });
  } finally {
    await s.close();
  }
});

test("startServer({ clock }) runs the store and the app on it: real LevelDB, real HTTP, driven leases", async () => {
  const dir = await tempDir("ckpt-server-clock-");
  const clock = manualClock();
  const server = await startServer(await levelLog(dir.path), { clock, reapEveryMs: 500 });
  try {
    const a = (await (await fetch(
      `${server.url}/v1/stages/s/runs`,
      json("POST", { total: 3, leaseMs: 10_000 }),
    )).json()) as { runId: string };
    const state = (await (await fetch(`${server.url}/v1/stages/s`)).json()) as {
      updatedAt: number;
    };
    assert.is(state.updatedAt, clock.now(), "the store stamps events with the same clock");
    clock.advance(10_001);
    let late: Response | undefined;
    assert.ok(
      await eventually(async () =>
        (late = await fetch(
          `${server.url}/v1/stages/s/runs/${a.runId}/updates`,
          json("POST", { updates: [{ type: "item", index: 0 }] }),
        )).status === 409
      ),
    );
    assert.is(((await late!.json()) as { error: { code: string } }).error.code, "CKPT_LEASE_LOST");
  } finally {
    await server.close(1000);
    await dir.remove();
  }
});

test("a clock other than the store's is CKPT_INVALID; so is one without timers", async () => {
  const store = serverStore(memoryLog(), { clock: manualClock() });
  try {
    createApp(store, { clock: manualClock() });
    assert.unreachable("a second clock was accepted");
  } catch (e) {
    assert.ok(isCkptError(e) && e.code === "CKPT_INVALID", String(e));
    assert.match((e as Error).message, "serverStore(log, { clock })");
  }
  const same = createApp(store, { clock: store.clock });
  assert.is(same.context.clock, store.clock, "the store's own clock is fine");
  await same.drain(0);
  await store.close();
  const bare = serverStore(memoryLog());
  try {
    createApp(bare, { clock: manualClock() });
    assert.unreachable("a clock over a store on the system clock was accepted");
  } catch (e) {
    assert.ok(isCkptError(e) && e.code === "CKPT_INVALID", String(e));
  }
  await bare.close();
  for (
    const clock of [{ now: () => 0 }, {
      now: () => 0,
      setTimeout: () => 0,
      setInterval: () => 0,
    }, { now: 5 }]
  ) {
    try {
      await open({ memory: true, clock: clock as never });
      assert.unreachable(`accepted ${JSON.stringify(Object.keys(clock))}`);
    } catch (e) {
      assert.ok(isCkptError(e) && e.code === "CKPT_INVALID", String(e));
      assert.match((e as Error).message, "clock");
    }
  }
});

test.run();
