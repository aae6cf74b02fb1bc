/**
 * decide, table by table: every call in every status gives the events written here by hand, or its
 * coded refusal; begin's decision on crashed, leased, joined and changed stages. Pure: no log, no
 * clock.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { type BeginCall, type Call, decide, decideBegin } from "../../core/decide.ts";
import { isCkptError } from "../../core/errors.ts";
import type { CkptEvent } from "../../core/events.ts";
import { checkEvents, initialState, type StageState, type Status } from "../../core/state.ts";

const NOW = 1_000_000;

function stateIn(status: Status, extra: Partial<StageState> = {}): StageState {
  return { ...initialState("s"), status, revision: status === "initialized" ? -1 : 3, ...extra };
}

/** The error code `fn` throws, or "ok". */
function outcome(fn: () => unknown): string {
  try {
    fn();
    return "ok";
  } catch (err) {
    if (!isCkptError(err)) throw err;
    return err.code;
  }
}

const B = "CKPT_BAD_TRANSITION";
const STATUSES: Status[] = [
  "initialized",
  "running",
  "paused",
  "completed",
  "failed",
  "recovering",
];

// Each row: a call, then its outcome in initialized, running, paused, completed, failed,
// recovering.
const CALLS: Array<[string, Call, [string, string, string, string, string, string]]> = [
  ["done", { call: "done", index: 3 }, [B, "ok", B, B, B, B]],
  ["mark with options", { call: "mark", index: 0, options: { item: "u", ok: false, error: "e" } }, [
    B,
    "ok",
    B,
    B,
    B,
    B,
  ]],
  ["progress", { call: "progress", progress: { ok: 2, total: 9 } }, [B, "ok", B, B, B, B]],
  ["error", { call: "error", error: new Error("boom"), options: { index: 1 } }, [
    B,
    "ok",
    "ok",
    B,
    B,
    "ok",
  ]],
  ["checkpoint", { call: "checkpoint", state: { step: 1 }, options: { step: 1 } }, [
    B,
    "ok",
    B,
    B,
    B,
    B,
  ]],
  ["metadata", { call: "metadata", metadata: { a: 1 } }, ["ok", "ok", "ok", "ok", "ok", "ok"]],
  ["unit.page", { call: "unit.page", key: "org/repo", page: 2, options: { records: 5 } }, [
    B,
    "ok",
    B,
    B,
    B,
    B,
  ]],
  ["unit.complete", { call: "unit.complete", key: "k" }, [B, "ok", B, B, B, B]],
  ["unit.fail", { call: "unit.fail", key: "k", error: "gone" }, [B, "ok", B, B, B, B]],
  ["pause", { call: "pause", reason: "night" }, [B, "ok", B, B, B, B]],
  ["resume", { call: "resume" }, [B, B, "ok", B, B, B]],
  ["complete", { call: "complete", metadata: { rows: 3 } }, [B, "ok", B, B, B, B]],
  ["fail", { call: "fail", error: "disk full", options: { retryable: true } }, [
    B,
    "ok",
    "ok",
    B,
    B,
    "ok",
  ]],
  ["heartbeat", { call: "heartbeat", runId: "r1" }, [B, "ok", B, B, B, B]],
  ["reset", { call: "reset", reason: "again" }, ["ok", "ok", "ok", "ok", "ok", "ok"]],
  ["reopen", { call: "reopen", indices: [1, 2], reason: "verify check failed" }, [
    B,
    "ok",
    "ok",
    "ok",
    "ok",
    "ok",
  ]],
];

for (const [name, call, expected] of CALLS) {
  test(`decide ${name}: allowed or CKPT_BAD_TRANSITION in each status`, () => {
    const got = STATUSES.map((s) => outcome(() => decide(stateIn(s), call, NOW)));
    assert.equal(got, expected);
  });
}

// Bad arguments are CKPT_INVALID whatever the status (checked before the transition).
const INVALID: Array<[string, Call]> = [
  ["negative index", { call: "done", index: -1 }],
  ["fractional index", { call: "mark", index: 1.5 }],
  ["options not an object", { call: "done", index: 1, options: "x" as never }],
  ["ok not a boolean", { call: "done", index: 1, options: { ok: "yes" as never } }],
  ["negative cost", { call: "done", index: 1, options: { cost: -1 } }],
  ["progress with an unknown key", { call: "progress", progress: { oks: 1 } as never }],
  ["progress with a negative count", { call: "progress", progress: { ok: -1 } }],
  ["error with a bad option", { call: "error", error: "e", options: { index: -2 } }],
  ["checkpoint without a state", { call: "checkpoint", state: undefined }],
  ["metadata not an object", { call: "metadata", metadata: [1] as never }],
  ["unit with an empty key", { call: "unit.page", key: "", page: 1 }],
  ["unit page negative", { call: "unit.page", key: "k", page: -1 }],
  ["unit complete with bad records", { call: "unit.complete", key: "k", options: { records: -3 } }],
  ["pause with a reason not a string", { call: "pause", reason: 5 as never }],
  ["complete with metadata not an object", { call: "complete", metadata: "x" as never }],
  ["fail with a bad option", { call: "fail", error: "e", options: { retryable: "no" as never } }],
  ["options given as null", { call: "error", error: "e", options: null as never }],
  ["unit options given as null", { call: "unit.page", key: "k", page: 1, options: null as never }],
  ["item options given as null", { call: "done", index: 1, options: null as never }],
];

for (const [name, call] of INVALID) {
  test(`decide refuses ${name} with CKPT_INVALID (in running and in completed)`, () => {
    assert.is(outcome(() => decide(stateIn("running"), call, NOW)), "CKPT_INVALID");
    assert.is(outcome(() => decide(stateIn("completed"), call, NOW)), "CKPT_INVALID");
  });
}

test("decide: a checkpoint over 1 MiB is CKPT_TOO_LARGE", () => {
  assert.is(
    outcome(() =>
      decide(stateIn("running"), { call: "checkpoint", state: "x".repeat(1_100_000) }, NOW)
    ),
    "CKPT_TOO_LARGE",
  );
});

test("decide builds the events exactly, stamped with `now`", () => {
  const run = stateIn("running");
  assert.equal(decide(run, { call: "done", index: 4 }, NOW), [{
    type: "item",
    v: 1,
    at: NOW,
    index: 4,
    outcome: "ok",
  }]);
  assert.equal(
    decide(run, { call: "mark", index: 5, options: { skipped: true, item: "u" } }, NOW),
    [{ type: "item", v: 1, at: NOW, index: 5, outcome: "skipped", item: "u" }],
  );
  assert.equal(
    decide(run, { call: "error", error: new Error("boom"), options: { item: "u" } }, NOW),
    [
      { type: "error", v: 1, at: NOW, message: "boom", retryable: false, item: "u" },
    ],
  );
  assert.equal(decide(run, { call: "unit.fail", key: "k", error: "gone" }, NOW), [
    { type: "unit", v: 1, at: NOW, key: "k", status: "failed", error: "gone", retryable: true },
  ]);
  assert.equal(decide(run, { call: "pause" }, NOW), [{ type: "paused", v: 1, at: NOW }]);
  assert.equal(decide(run, { call: "complete", metadata: { a: 1, b: undefined } }, NOW), [{
    type: "completed",
    v: 1,
    at: NOW,
    metadata: { a: 1 },
  }]);
  assert.equal(decide(stateIn("paused"), { call: "reopen", indices: [7, 9], reason: "r" }, NOW), [
    { type: "item.reopened", v: 1, at: NOW, index: 7, reason: "r" },
    { type: "item.reopened", v: 1, at: NOW, index: 9, reason: "r" },
  ]);
  const long = "x".repeat(3000);
  const [failed] = decide(run, { call: "fail", error: new Error(long) }, NOW);
  assert.is((failed as { message: string }).message.length, 2048);
});

test("decide does not touch the state it is given", () => {
  const st = stateIn("running");
  const before = JSON.stringify(st);
  for (const [, call] of CALLS) outcome(() => decide(st, call, NOW));
  assert.is(JSON.stringify(st), before);
});

test("checkEvents: a sequence is checked in order, each event against the status the ones before it lead to", () => {
  const ev = (type: string, extra: Record<string, unknown> = {}) =>
    ({ type, v: 1, at: NOW, ...extra }) as CkptEvent;
  const started = ev("run.started", { runId: "r", owner: { host: "h", pid: 1, runId: "r" } });
  assert.is(
    outcome(() =>
      checkEvents(stateIn("running"), [ev("crash.detected", { reason: "x" }), started])
    ),
    "ok",
  );
  assert.is(
    outcome(() => checkEvents(stateIn("running"), [started])),
    B,
    "run.started is not allowed while running",
  );
  assert.is(
    outcome(() =>
      checkEvents(stateIn("running"), [ev("paused"), ev("item", { index: 1, outcome: "ok" })])
    ),
    B,
    "no item after a pause in the same batch",
  );
  assert.is(
    outcome(() =>
      checkEvents(stateIn("paused"), [ev("resumed"), ev("item", { index: 1, outcome: "ok" })])
    ),
    "ok",
  );
  assert.is(outcome(() => checkEvents(stateIn("running"), [ev("no-such-type")])), "CKPT_CORRUPT");
});

// begin
const OWNER = { host: "h", pid: 7, runId: "new" };
const call = (o: Partial<BeginCall> = {}): BeginCall => ({
  multiProcess: false,
  abandoned: false,
  runId: "new",
  owner: OWNER,
  ...o,
});
const live = (status: Status, o: Partial<StageState> = {}) =>
  stateIn(status, {
    run: {
      id: "old",
      owner: { host: "o", pid: 1, runId: "old" },
      startedAt: NOW - 10,
      processedAtStart: 0,
      leaseMs: 30_000,
    },
    updatedAt: NOW - 1_000,
    ...o,
  });
const types = (
  d: ReturnType<typeof decideBegin>,
) => (d.kind === "start" ? d.events.map((e) => e.type) : ["join " + d.runId]);

const BEGINS: Array<[string, StageState, BeginCall, string[] | string]> = [
  ["a fresh stage starts", stateIn("initialized"), call(), ["run.started"]],
  ["a paused stage resumes", stateIn("paused"), call(), ["run.started"]],
  ["a completed stage starts again", stateIn("completed"), call(), ["run.started"]],
  ["a failed stage starts again", stateIn("failed"), call(), ["run.started"]],
  ["a running stage of one process crashed", live("running"), call(), [
    "crash.detected",
    "run.started",
  ]],
  ["a recovering stage crashed again", live("recovering"), call(), [
    "crash.detected",
    "run.started",
  ]],
  [
    "a live lease on a shared log is CKPT_LOCKED",
    live("running"),
    call({ multiProcess: true }),
    "CKPT_LOCKED",
  ],
  ["a live lease is joined when asked", live("running"), call({ multiProcess: true, join: true }), [
    "join old",
  ]],
  [
    "a recovering stage with a live lease is CKPT_LOCKED even to join",
    live("recovering"),
    call({ multiProcess: true, join: true }),
    "CKPT_LOCKED",
  ],
  [
    "an expired lease is a crash",
    live("running", { updatedAt: NOW - 31_000 }),
    call({ multiProcess: true }),
    ["crash.detected", "run.started"],
  ],
  [
    "an abandoned run's lease is void",
    live("running"),
    call({ multiProcess: true, abandoned: true }),
    ["crash.detected", "run.started"],
  ],
  [
    "a changed input is CKPT_INPUT_CHANGED",
    stateIn("paused", { input: "a".repeat(64) }),
    call({ input: "b".repeat(64) }),
    "CKPT_INPUT_CHANGED",
  ],
  [
    "a changed config is CKPT_CONFIG_CHANGED",
    stateIn("paused", { config: "c1" }),
    call({ config: "c2" }),
    "CKPT_CONFIG_CHANGED",
  ],
  [
    "a changed input with onChange restart resets",
    stateIn("paused", { input: "a".repeat(64) }),
    call({ input: "b".repeat(64), onChange: "restart" }),
    ["reset", "run.started"],
  ],
  [
    "the same input resumes",
    stateIn("paused", { input: "a".repeat(64) }),
    call({ input: "a".repeat(64) }),
    ["run.started"],
  ],
  [
    "a crash and a changed config with restart",
    live("running", { config: "c1" }),
    call({ config: "c2", onChange: "restart" }),
    ["crash.detected", "reset", "run.started"],
  ],
];

for (const [name, st, c, expected] of BEGINS) {
  test(`decideBegin: ${name}`, () => {
    let got: string[] | string;
    try {
      got = types(decideBegin(st, c, NOW));
    } catch (err) {
      if (!isCkptError(err)) throw err;
      got = err.code;
    }
    assert.equal(got, expected);
  });
}

test("decideBegin: run.started carries the run, owner, digests and (on shared logs) the lease", () => {
  const d = decideBegin(
    stateIn("initialized"),
    call({ total: 10, input: "i".repeat(64), config: "cfg", multiProcess: true }),
    NOW,
  );
  assert.is(d.kind, "start");
  if (d.kind !== "start") return;
  assert.equal(d.events, [{
    type: "run.started",
    v: 1,
    at: NOW,
    runId: "new",
    owner: OWNER,
    total: 10,
    input: "i".repeat(64),
    config: "cfg",
    leaseMs: 30_000,
  }]);
  assert.is(d.leaseMs, 30_000);
  assert.is(d.from, "initialized");
  const local = decideBegin(stateIn("initialized"), call({ leaseMs: 5 }), NOW);
  assert.is(local.kind === "start" && local.leaseMs, undefined, "no lease on a log of one process");
});

test("decideBegin: the crash event names the run that died and the result says so", () => {
  const d = decideBegin(live("running"), call(), NOW);
  if (d.kind !== "start") throw new Error("expected start");
  assert.is(d.crashed, true);
  assert.is(d.restarted, false);
  assert.is(d.from, "running");
  assert.equal(d.events[0], {
    type: "crash.detected",
    v: 1,
    at: NOW,
    runId: "old",
    owner: { host: "o", pid: 1, runId: "old" },
    reason: "the previous run stopped without pausing, completing or failing",
  });
});

test.run();
