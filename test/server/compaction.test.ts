/**
 * The sidecar's compaction schedule: flags and env, one compaction at a time shared with
 * POST /v1/compact, a clean stop on shutdown, and the real executable compacting a real LevelDB
 * store on a 200 ms timer while a running stage is left alone.
 */
import process from "node:process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { memoryLog } from "../../adapters/memory.ts";
import type { EventLog, Snapshot } from "../../core/log.ts";
import { levelLog } from "../../adapters/level.ts";
import { type CompactionNotice, describeCompaction } from "../../server/compaction-notice.ts";
import { startServer as startInProcess } from "../../server/index.ts";
import { parseArgs } from "../../server/args.ts";
import { main, type MainIo } from "../../server/main.ts";
import { open } from "../../mod.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { tempDir } from "../helpers/tmp.ts";
import { eventually, json, serverEntry, sidecar, sleep, spawnTs } from "./helpers.ts";

const NO_SERVE: MainIo = {
  env: {},
  stdout: () => undefined,
  stderr: () => undefined,
  listen: () => Promise.reject(new Error("must not listen")),
  onSignal: () => () => undefined,
};

test("flags and env build the schedule's policy; without --compact-every nothing is scheduled", () => {
  const none = parseArgs([], {});
  assert.ok(none.kind === "run" && none.config.compaction === undefined);
  const f = parseArgs([
    "--compact-every",
    "1h",
    "--compact-max-age=7d",
    "--compact-keep",
    "50",
    "--compact-min",
    "10",
    "--compact-stage-ttl",
    "30d",
  ], {});
  assert.ok(f.kind === "run");
  if (f.kind !== "run") return;
  assert.equal(f.config.compaction, {
    everyMs: 3_600_000,
    policy: { maxAgeMs: 7 * 86_400_000, maxEvents: 50, minEvents: 10, stageTtlMs: 30 * 86_400_000 },
  });
  const e = parseArgs(["--compact-keep", "7"], {
    CKPT_COMPACT_EVERY: "15m",
    CKPT_COMPACT_KEEP: "1000",
    CKPT_COMPACT_MIN: "0",
  });
  assert.ok(e.kind === "run");
  if (e.kind !== "run") return;
  assert.equal(
    e.config.compaction,
    { everyMs: 900_000, policy: { maxEvents: 7, minEvents: 0 } },
    "a flag beats its env variable",
  );
  const c = parseArgs(["--compact-every", "1h", "--compact-keep-checkpoints", "3"], {
    CKPT_COMPACT_CHECKPOINT_TTL: "24h",
  });
  assert.ok(c.kind === "run");
  if (c.kind !== "run") return;
  assert.equal(c.config.compaction, {
    everyMs: 3_600_000,
    policy: { keepCheckpoints: 3, checkpointTtlMs: 86_400_000 },
  }, "state checkpoints have their schedule flags too");
});

test("bad schedule values: exit 2 with a clear message and usage, no stack trace", async () => {
  const cases: [string[], Record<string, string>, string][] = [
    [
      ["--compact-every", "soon", "--compact-keep", "5"],
      {},
      '--compact-every expects a duration such as 30s, 15m, 1h30m or 7d; Cannot read duration "soon"',
    ],
    [["--compact-every", "0s"], {}, "--compact-every must be at least 100ms"],
    [
      ["--compact-every", "0"],
      {},
      '--compact-every expects a duration such as 30s, 15m, 1h30m or 7d; Cannot read duration "0"',
    ],
    [["--compact-every", "1h"], {}, "--compact-every needs something to remove"],
    [
      ["--compact-keep", "5"],
      {},
      "--compact-keep only sets the compaction schedule's policy: add --compact-every",
    ],
    [
      ["--compact-keep-checkpoints", "5"],
      {},
      "--compact-keep-checkpoints only sets the compaction schedule's policy: add --compact-every",
    ],
    [
      ["--compact-every", "1h", "--compact-checkpoint-ttl", "soon"],
      {},
      "--compact-checkpoint-ttl expects a duration such as",
    ],
    [
      [],
      { CKPT_COMPACT_MAX_AGE: "7d" },
      "--compact-max-age only sets the compaction schedule's policy",
    ],
    [
      ["--compact-every", "1h", "--compact-keep", "-3"],
      {},
      "--compact-keep expects a whole number",
    ],
    [
      ["--compact-every", "1h", "--compact-keep", "lots"],
      {},
      '--compact-keep expects a whole number; got "lots"',
    ],
    [
      ["--compact-every", "1h", "--compact-max-age", "7 days"],
      {},
      "--compact-max-age expects a duration",
    ],
    [
      ["--compact-every", "1h", "--compact-stage-ttl"],
      {},
      "--compact-stage-ttl needs a value <duration>",
    ],
    [
      ["--compact-every", "1h", "--compact-min", "1.5", "--compact-keep", "5"],
      {},
      "--compact-min expects a whole number",
    ],
  ];
  for (const [argv, env, message] of cases) {
    const err: string[] = [];
    const code = await main(argv, { ...NO_SERVE, env, stderr: (l) => void err.push(l) });
    const text = err.join("\n");
    assert.is(code, 2, argv.join(" "));
    assert.match(text, `ckpt-server: ${message}`);
    assert.match(text, "--compact-every <duration>", "usage follows");
    assert.not.match(text, /\n\s+at /, "no stack trace");
  }
});

/** A memory log whose truncations are slow, so compactions overlap in time if they ever could. */
function slowLog(
  truncateMs: number,
): { log: EventLog; probe: { truncating: number; maxTruncating: number; truncations: number } } {
  const inner = memoryLog();
  const probe = { truncating: 0, maxTruncating: 0, truncations: 0 };
  const log: EventLog = {
    ...inner,
    async truncateBefore(stream: string, revision: number, base: Snapshot) {
      probe.maxTruncating = Math.max(probe.maxTruncating, ++probe.truncating);
      try {
        await sleep(truncateMs);
        await inner.truncateBefore(stream, revision, base);
        probe.truncations++;
      } finally {
        probe.truncating--;
      }
    },
  };
  return { log, probe };
}

/** `n` completed stages of `events` item events each. */
async function finishedStages(
  store: {
    stage(
      name: string,
    ): {
      begin(
        o: { total: number },
      ): Promise<{ done(i: number): Promise<void>; complete(): Promise<void> }>;
    };
  },
  n: number,
  events: number,
) {
  for (let s = 0; s < n; s++) {
    const run = await store.stage(`done-${s}`).begin({ total: events });
    await Promise.all(Array.from({ length: events }, (_, i) => run.done(i)));
    await run.complete();
  }
}

test("the schedule and POST /v1/compact share one path: never two compactions at once; drain clears the timer", async () => {
  const { log, probe } = slowLog(15);
  const notices: CompactionNotice[] = [];
  /** [start, end] of each compaction, from its report. */
  const ran: [number, number][] = [];
  const onCompaction = (n: CompactionNotice) => {
    notices.push(n);
    if (n.kind === "report") ran.push([Date.now() - n.report.durationMs, Date.now()]);
  };
  const clock = manualClock();
  const s = await sidecar({
    log,
    store: { clock },
    app: { compaction: { everyMs: 100, policy: { maxEvents: 5, minEvents: 1 } }, onCompaction },
  });
  await finishedStages(s.store, 3, 20);
  // A scheduled tick starts first; requests arrive while it truncates, each waits its turn.
  clock.advance(100);
  assert.ok(s.ckpt.context.compactor.busy, "the tick started a compaction");
  const posts = await Promise.all(
    Array.from(
      { length: 4 },
      () => s.ckpt.app.request("/v1/compact", json("POST", { maxEvents: 5, minEvents: 1 })),
    ),
  );
  for (const r of posts) assert.is(r.status, 200);
  assert.ok(
    notices.some((n) => n.kind === "report" && n.trigger === "schedule"),
    "the schedule's compaction reported",
  );
  // A tick that finds a requested compaction under way is skipped, not queued.
  const busy = s.ckpt.context.compactor.run({ maxEvents: 5, minEvents: 1 }, "request");
  clock.advance(100);
  await busy;
  assert.ok(
    notices.some((n) => n.kind === "skipped" && n.trigger === "schedule"),
    "the busy tick was skipped",
  );
  assert.is(probe.maxTruncating, 1);
  ran.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ran.length; i++) {
    assert.ok(
      ran[i]![0] >= ran[i - 1]![1] - 1,
      `compaction ${i} started after the one before ended`,
    );
  }
  assert.is(
    probe.truncations,
    3,
    "the first compaction did the work, the rest found nothing past the policy",
  );
  assert.is(ran.length, 6);
  const metrics = await (await s.ckpt.app.request("/metrics")).text();
  assert.match(metrics, `ckpt_compactions_total{trigger="request"} 5`);
  assert.match(metrics, `ckpt_compactions_total{trigger="schedule"} 1`);
  const removed = (await log.streams()).reduce((a, i) => a + i.first, 0);
  assert.ok(removed > 0);
  assert.match(metrics, `ckpt_compaction_events_removed_total ${removed}`);
  assert.match(metrics, "ckpt_compaction_last_events_removed");

  await s.ckpt.drain(1000);
  const after = notices.length;
  clock.advance(1000);
  await sleep(0);
  assert.is(notices.length, after, "no tick after drain");
  await s.close();
});

test("shutdown stops a scheduled compaction between stages and waits for it; state never changes", async () => {
  const { log, probe } = slowLog(40);
  const notices: CompactionNotice[] = [];
  const clock = manualClock();
  const s = await sidecar({
    log,
    store: { clock },
    app: {
      compaction: { everyMs: 100, policy: { maxEvents: 5, minEvents: 1 } },
      onCompaction: (n) => void notices.push(n),
    },
  });
  await finishedStages(s.store, 8, 20);
  const before = await Promise.all(
    [0, 1, 2, 3, 4, 5, 6, 7].map(async (i) =>
      JSON.stringify((await s.ckpt.context.log.projection(`done-${i}`))!.state)
    ),
  );
  clock.advance(100);
  assert.ok(
    await eventually(() => probe.truncating === 1, 2000),
    "a scheduled compaction is under way",
  );
  await s.ckpt.drain(1000);
  assert.is(probe.truncating, 0, "drain waited for the stage being compacted");
  assert.ok(
    probe.truncations >= 1 && probe.truncations < 8,
    `stopped between stages (${probe.truncations} of 8 done)`,
  );
  const stopped = notices.find((n) => n.kind === "stopped");
  assert.ok(stopped && stopped.kind === "stopped" && stopped.error.code === "CKPT_UNAVAILABLE");
  assert.match(
    await (await s.ckpt.app.request("/metrics")).text(),
    "ckpt_compaction_failures_total 0",
  );
  const after = await Promise.all(
    [0, 1, 2, 3, 4, 5, 6, 7].map(async (i) =>
      JSON.stringify((await s.ckpt.context.log.projection(`done-${i}`))!.state)
    ),
  );
  assert.equal(after, before);
  const truncations = probe.truncations;
  clock.advance(1000);
  await sleep(50);
  assert.is(probe.truncations, truncations, "the timer was cleared");
  await s.close();
});

test("real LevelDB, real HTTP, driven clock: the first tick after a stage began compacts the finished one only (1 of 2 touched)", async () => {
  const dir = await tempDir("ckpt-server-driven-schedule-");
  const embedded = await open({ path: dir.path, durability: "os" });
  const run = await embedded.stage("finished").begin({ total: 300 });
  await Promise.all(Array.from({ length: 300 }, (_, i) => run.done(i)));
  await run.complete();
  const wanted = JSON.parse(JSON.stringify(await embedded.stage("finished").state()));
  await embedded.close();

  const clock = manualClock();
  const notices: CompactionNotice[] = [];
  const policy = { maxEvents: 50, minEvents: 10 };
  const server = await startInProcess(await levelLog(dir.path), {
    clock,
    compaction: { everyMs: 200, policy },
    onCompaction: (n) => void notices.push(n),
  });
  const call = async (path: string, init?: RequestInit) =>
    (await fetch(server.url + path, init)).json() as Promise<Record<string, any>>;
  try {
    const { runId } = await call("/v1/stages/live/runs", json("POST", { total: 1000 }));
    await call(
      `/v1/stages/live/runs/${runId}/updates`,
      json("POST", {
        updates: Array.from({ length: 300 }, (_, i) => ({ type: "item", index: i })),
      }),
    );
    assert.equal(notices, [], "no tick before the clock moves");
    clock.advance(200);
    assert.ok(await eventually(() => notices.length === 1), "one tick");
    const finished = await call("/v1/log/streams/finished");
    assert.match(
      describeCompaction(notices[0]!),
      new RegExp(
        `^compaction \\(schedule\\): 1 of 2 stages touched, ${finished.first} events removed, -?[\\d.]+ (B|KiB|MiB) reclaimed, \\d+ ms$`,
      ),
    );
    assert.is(finished.head + 1 - finished.first, 50, "50 events kept");
    const state = await call("/v1/stages/finished");
    delete state.progress;
    assert.equal(state, wanted, "its state is unchanged");
    const live = await call("/v1/log/streams/live");
    assert.equal([live.first, live.head], [0, 300], "the running stage is untouched");
    clock.advance(200);
    assert.ok(await eventually(() => notices.length === 2), "the next tick");
    assert.ok(
      notices[1]!.kind === "report" && notices[1]!.report.stagesTouched === 0,
      "nothing left past the policy",
    );
    const metrics = await (await fetch(server.url + "/metrics")).text();
    assert.match(metrics, `ckpt_compactions_total{trigger="schedule"} 2`);
    assert.match(metrics, "ckpt_compaction_stages_touched_total 1\n");
    assert.match(metrics, `ckpt_compaction_last_timestamp_seconds ${clock.now() / 1000}\n`);
  } finally {
    await server.close(1000);
    await dir.remove();
  }
});

// ---- the real executable ----

interface Child {
  url: string;
  out: () => string;
  err: () => string;
  exit: Promise<number | null>;
  kill(signal: "SIGTERM"): void;
}

async function startServer(args: string[]): Promise<Child> {
  const p = spawnTs(serverEntry, args);
  let out = "";
  let err = "";
  p.stdout!.on("data", (d) => (out += d));
  p.stderr!.on("data", (d) => (err += d));
  const exit = new Promise<number | null>((r) => p.on("close", (code) => r(code)));
  const listening = await eventually(() => /API: http:\S+/.test(out), 15_000); // the banner's last line
  if (!listening) throw new Error(`the sidecar did not start:\n${out}\n${err}`);
  // process.kill rather than p.kill: Deno's child_process reports any child it signalled itself as
  // killed (code null), even after a clean exit 0.
  return {
    url: /listening on (http:\S+)/.exec(out)![1]!,
    out: () => out,
    err: () => err,
    exit,
    kill: (s) => process.kill(p.pid!, s),
  };
}

test("real server, real LevelDB: the schedule compacts a finished stage, leaves a running one, counts on /metrics, stops on SIGTERM", async () => {
  const dir = await tempDir("ckpt-server-schedule-");
  // A finished stage of 302 events written by an embedded store before the sidecar takes the
  // folder.
  const embedded = await open({ path: dir.path, durability: "os" });
  const run = await embedded.stage("finished").begin({ total: 300 });
  await Promise.all(Array.from({ length: 300 }, (_, i) => run.done(i)));
  await run.complete();
  const wanted = JSON.parse(JSON.stringify(await embedded.stage("finished").state()));
  const wantedRuns = JSON.parse(JSON.stringify((await embedded.stage("finished").history()).runs));
  await embedded.close();

  // The real executable's bad-value path runs meanwhile: exit 2, usage, no stack trace.
  const badRun = new Promise<{ code: number | null; err: string }>((resolve) => {
    const p = spawnTs(serverEntry, ["--memory", "--compact-every", "often", "--compact-keep", "5"]);
    let err = "";
    p.stderr!.on("data", (d) => (err += d));
    p.on("close", (code) => resolve({ code, err }));
  });

  const server = await startServer([
    "--store",
    dir.path,
    "--port",
    "0",
    "--compact-every",
    "200ms",
    "--compact-keep",
    "50",
    "--compact-min",
    "10",
  ]);
  const call = async (path: string, init?: RequestInit) => {
    const r = await fetch(server.url + path, init);
    return {
      status: r.status,
      body: r.headers.get("content-type")?.includes("json")
        ? ((await r.json()) as Record<string, any>)
        : await r.text(),
    };
  };
  try {
    assert.match(server.out(), "compaction: every 200ms (keep 50, min 10), first run in 200ms");
    // A running stage with 301 events: past the policy, but live, so never compacted.
    const begun = await call("/v1/stages/live/runs", json("POST", { total: 1000 }));
    assert.is(begun.status, 201);
    const runId = (begun.body as Record<string, string>).runId;
    const updates = Array.from({ length: 300 }, (_, i) => ({ type: "item", index: i }));
    assert.is(
      (await call(`/v1/stages/live/runs/${runId}/updates`, json("POST", { updates }))).status,
      200,
    );

    // Two more scheduled compactions after the running stage was written: one ran start to end
    // since.
    const count = async () =>
      Number(
        /ckpt_compactions_total\{trigger="schedule"\} (\d+)/.exec(
          (await call("/metrics")).body as string,
        )?.[1] ?? 0,
      );
    const seen = await count();
    assert.ok(
      await eventually(async () => (await count()) >= seen + 2, 5000),
      "the schedule keeps firing",
    );

    const finished = (await call("/v1/log/streams/finished")).body as Record<string, number>;
    assert.ok(finished.first! > 0, "the finished stage was compacted");
    assert.is(finished.head! + 1 - finished.first!, 50, "--compact-keep 50 events kept");
    const state = (await call("/v1/stages/finished")).body as Record<string, unknown>;
    delete state.progress;
    assert.equal(state, wanted, "its state is unchanged");
    assert.equal(
      ((await call("/v1/stages/finished/history")).body as Record<string, unknown>).runs,
      wantedRuns,
      "its run summaries are unchanged",
    );
    const live = (await call("/v1/log/streams/live")).body as Record<string, number>;
    assert.is(live.first, 0, "the running stage is untouched");
    assert.is(live.head, 300);

    const metrics = (await call("/metrics")).body as string;
    assert.match(
      metrics,
      `ckpt_compaction_events_removed_total ${finished.first}`,
      "removed once, then nothing past the policy",
    );
    assert.match(metrics, "ckpt_compaction_stages_touched_total 1");
    assert.match(metrics, /ckpt_compaction_last_duration_seconds \d/);
    assert.match(metrics, /ckpt_compaction_bytes_reclaimed_total -?\d+/);
    assert.not.match(
      server.out(),
      /compaction \(schedule\): 0 of/,
      "ticks that found nothing to remove stay quiet",
    );
    // 1 of 1 when the first real tick beat the live stage's begin; the driven-clock test above pins
    // 1 of 2.
    assert.match(
      server.out(),
      new RegExp(
        `compaction \\(schedule\\): 1 of [12] stages touched, ${finished.first} events removed, -?[\\d.]+ (B|KiB|MiB) reclaimed, \\d+ ms`,
      ),
    );
  } finally {
    server.kill("SIGTERM");
  }
  assert.is(await server.exit, 0, server.out() + server.err());
  assert.match(server.out(), "stopped cleanly");
  assert.is(server.err(), "");

  const bad = await badRun;
  assert.is(bad.code, 2);
  assert.match(
    bad.err,
    'ckpt-server: --compact-every expects a duration such as 30s, 15m, 1h30m or 7d; Cannot read duration "often"',
  );
  assert.match(bad.err, "Usage: ckpt-server");
  assert.not.match(bad.err, /\n\s+at /);
  await dir.remove();
});

test.run();
