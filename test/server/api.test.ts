/**
 * Every endpoint of the sidecar, each test run twice: through app.request() and against a real
 * server on a random loopback port (h3's describeMatrix), over a real LevelDB folder.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { toSnapshot } from "../../core/projection.ts";
import { baseAt } from "../../core/retention.ts";
import { has } from "../../core/resume-set.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import {
  bearer,
  type Call,
  caller,
  eventually,
  json,
  lines,
  type Sidecar,
  sidecar,
  TOKENS,
} from "./helpers.ts";
import { readSse } from "./sse.ts";

type Transport = "app" | "http";
const sidecars: Partial<Record<Transport, Sidecar>> = {};
// Leases run on these clocks: a test lets one lapse by moving its clock, not by sleeping through
// it.
const clocks = { app: manualClock(), http: manualClock() };
const admin = bearer(TOKENS.admin);
const get = (call: Call, path: string) => call(path, { headers: admin });
const send = (
  call: Call,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) => call(path, json(method, body, { ...admin, ...headers }));
const body = async (r: Response) => (await r.json()) as Record<string, any>;

test.before(async () => {
  sidecars.app = await sidecar({
    auth: true,
    store: { clock: clocks.app },
    app: { reapEveryMs: 50 },
  });
  sidecars.http = await sidecar({
    auth: true,
    serve: true,
    store: { clock: clocks.http },
    app: { reapEveryMs: 50 },
  });
});
test.after(async () => {
  for (const s of Object.values(sidecars)) await s?.close();
});

for (const t of ["app", "http"] as const) {
  const s = () => sidecars[t]!;
  const call = () => caller(s(), t);

  test(`[${t}] /healthz, /readyz and unknown routes`, async () => {
    assert.equal(await body(await call()("/healthz")), { ok: true });
    const ready = await call()("/readyz");
    assert.is(ready.status, 200);
    const missing = await get(call(), "/v1/nope");
    assert.is(missing.status, 404);
    assert.is((await body(missing)).error.code, "CKPT_NOT_FOUND");
  });

  test(`[${t}] /openapi.json documents every route, with roles and schemas`, async () => {
    const doc = await body(await call()("/openapi.json"));
    assert.is(doc.openapi, "3.1.0");
    for (const r of s().ckpt.routes) {
      const op = doc.paths[r.path.replace(/:(\w+)/g, "{$1}")]?.[r.method.toLowerCase()];
      assert.ok(op, `${r.method} ${r.path} is documented`);
      assert.is(op["x-ckpt-role"], r.role ?? "public");
    }
    const begin = doc.paths["/v1/stages/{stage}/runs"].post;
    assert.is(begin.requestBody.content["application/json"].schema.additionalProperties, false);
    assert.ok(
      begin.parameters.some((p: { name: string; in: string }) =>
        p.name === "stage" && p.in === "path"
      ),
    );
  });

  test(`[${t}] begin, join, batch updates, state with ETag`, async () => {
    const c = call();
    const r = await send(c, "POST", "/v1/stages/crawl/runs", {
      total: 10,
      input: { sha256: "ab".repeat(32) },
      config: { depth: 2 },
    });
    assert.is(r.status, 201);
    const begun = await body(r);
    assert.is(r.headers.get("location"), `/v1/stages/crawl/runs/${begun.runId}`);
    assert.is(begun.joined, false);
    assert.is(begun.resumed.from, "initialized");

    const locked = await send(c, "POST", "/v1/stages/crawl/runs", {});
    assert.is(locked.status, 409);
    assert.is((await body(locked)).error.code, "CKPT_LOCKED");
    const joined = await send(c, "POST", "/v1/stages/crawl/runs", { join: true });
    assert.is(joined.status, 200);
    assert.is((await body(joined)).runId, begun.runId);

    const up = await send(c, "POST", `/v1/stages/crawl/runs/${begun.runId}/updates`, {
      updates: [
        { type: "item", index: 0, item: "https://a" },
        { type: "item", index: 1, ok: false, error: "404" },
        { type: "item", index: 3, skipped: true },
        { type: "unit", key: "org/repo:pulls", status: "running", page: 2, records: 50 },
        { type: "progress", cost: 1.5 },
        { type: "error", message: "slow", retryable: true },
        { type: "metadata", metadata: { model: "m1" } },
      ],
    });
    assert.is(up.status, 200);
    const after = await body(up);
    assert.equal(after.counters.processed, 3);
    assert.is(up.headers.get("etag"), `"${after.revision}"`);

    const st = await get(c, "/v1/stages/crawl");
    const state = await body(st);
    assert.is(st.headers.get("etag"), `"${after.revision}"`);
    assert.is(state.status, "running");
    assert.equal([state.counters.successful, state.counters.failed, state.counters.skipped], [
      1,
      1,
      1,
    ]);
    assert.ok(has(state.resume, 3) && !has(state.resume, 2));
    assert.is(state.units["org/repo:pulls"].page, 2);
    assert.is(state.cost, 1.5);
    assert.equal(state.metadata, { model: "m1" });
    assert.is(state.input, "ab".repeat(32));
    assert.is(state.progress.total, 10);
    const same = await c("/v1/stages/crawl", {
      headers: { ...admin, "if-none-match": `"${after.revision}"` },
    });
    assert.is(same.status, 304);
  });

  test(`[${t}] a batch that breaks a transition records nothing; If-Match guards the revision`, async () => {
    const c = call();
    const { runId } = await body(await send(c, "POST", "/v1/stages/strict/runs", { total: 3 }));
    const before = await body(await get(c, "/v1/stages/strict"));
    const bad = await send(c, "POST", `/v1/stages/strict/runs/${runId}/updates`, {
      updates: [{ type: "item", index: 0 }, { type: "complete" }, { type: "item", index: 1 }],
    });
    assert.is(bad.status, 409);
    assert.is((await body(bad)).error.code, "CKPT_BAD_TRANSITION");
    assert.is((await body(await get(c, "/v1/stages/strict"))).revision, before.revision);
    const stale = await send(c, "POST", `/v1/stages/strict/runs/${runId}/updates`, {
      updates: [{ type: "item", index: 0 }],
    }, { "if-match": '"99"' });
    assert.is(stale.status, 409);
    assert.is((await body(stale)).error.code, "CKPT_CONFLICT");
    const ok = await send(c, "POST", `/v1/stages/strict/runs/${runId}/updates`, {
      updates: [{ type: "item", index: 0 }, { type: "complete", metadata: { n: 1 } }],
    }, { "if-match": `"${before.revision}"` });
    assert.is(ok.status, 200);
    assert.equal((await body(ok)).ended, true);
    const gone = await send(c, "POST", `/v1/stages/strict/runs/${runId}/updates`, { updates: [] });
    assert.is(gone.status, 404);
    assert.is((await body(await get(c, "/v1/stages/strict"))).status, "completed");
  });

  test(`[${t}] list with prefix and status filters; report totals`, async () => {
    const c = call();
    for (const name of ["etl-a", "etl-b", "other"]) {
      const { runId } = await body(await send(c, "POST", `/v1/stages/${name}/runs`, { total: 2 }));
      await send(c, "POST", `/v1/stages/${name}/runs/${runId}/updates`, {
        updates: [{ type: "item", index: 0 }, ...(name === "etl-b" ? [{ type: "complete" }] : [])],
      });
      if (name !== "etl-b") {
        assert.is((await send(c, "DELETE", `/v1/stages/${name}/runs/${runId}`)).status, 204);
      }
    }
    const etl = await body(await get(c, "/v1/stages?prefix=etl-"));
    assert.equal(etl.stages.map((x: { stage: string }) => x.stage), ["etl-a", "etl-b"]);
    const done = await body(await get(c, "/v1/stages?prefix=etl-&status=completed"));
    assert.equal(
      done.stages.map((
        x: { stage: string; progress: { percent: number } },
      ) => [x.stage, x.progress.percent]),
      [["etl-b", 50]],
    );
    const bad = await get(c, "/v1/stages?status=sleeping");
    assert.is(bad.status, 400);
    const report = await body(await get(c, "/v1/report"));
    const names = report.stages.map((x: { stage: string }) => x.stage);
    assert.ok(["etl-a", "etl-b", "other"].every((n) => names.includes(n)));
    assert.is(report.totals.stages, report.stages.length);
    assert.is(
      report.totals.processed,
      report.stages.reduce(
        (a: number, x: { counters: { processed: number } }) => a + x.counters.processed,
        0,
      ),
    );
    assert.ok(report.totals.byStatus.completed >= 1);
  });

  test(`[${t}] history and NDJSON replay from a revision or a time`, async () => {
    const c = call();
    const { runId } = await body(await send(c, "POST", "/v1/stages/hist/runs", { total: 4 }));
    await send(c, "POST", `/v1/stages/hist/runs/${runId}/updates`, {
      updates: [{ type: "item", index: 0 }, { type: "item", index: 1 }, {
        type: "pause",
        reason: "lunch",
      }],
    });
    const h = await body(await get(c, "/v1/stages/hist/history"));
    assert.equal(
      h.runs.map((r: { outcome: string; processed: number }) => [r.outcome, r.processed]),
      [["paused", 2]],
    );
    assert.equal(h.statusChanges.map((x: { to: string }) => x.to), ["running", "paused"]);

    const all = await get(c, "/v1/stages/hist/events");
    assert.match(all.headers.get("content-type")!, "application/x-ndjson");
    const events = lines(await all.text());
    assert.equal(events.map((e) => e.revision), [0, 1, 2, 3]);
    const tail = lines(await (await get(c, "/v1/stages/hist/events?from=2&state=summary")).text());
    assert.equal(tail.map((e) => [e.revision, (e.state as { status: string }).status]), [[
      2,
      "running",
    ], [3, "paused"]]);
    const at = (events[3]!.event as { at: number }).at;
    const since = lines(
      await (await get(c, `/v1/stages/hist/events?since=${new Date(at).toISOString()}`)).text(),
    );
    assert.ok(since.length >= 1 && since.every((e) => (e.event as { at: number }).at >= at));
    assert.is((await get(c, "/v1/stages/nope/events")).status, 404);
    assert.is((await get(c, "/v1/stages/nope/history")).status, 404);
    assert.is((await get(c, "/v1/stages/nope")).status, 404);
  });

  test(`[${t}] live updates over SSE, and Last-Event-ID replays what was missed`, async () => {
    const c = call();
    const { runId } = await body(await send(c, "POST", "/v1/stages/live/runs", { total: 5 }));
    const res = await get(c, "/v1/stages/live/watch");
    assert.match(res.headers.get("content-type")!, "text/event-stream");
    // The updates go once the stream's backlog (the stage's state) has arrived: from then on it is
    // live.
    let sent: Promise<Response> | undefined;
    const got = await readSse(res, (m) => {
      if (!sent && m.some((x) => x.event === "state")) {
        sent = send(c, "POST", `/v1/stages/live/runs/${runId}/updates`, {
          updates: [{ type: "item", index: 0 }, { type: "item", index: 1 }],
        });
      }
      return m.filter((x) => x.event === "message").length >= 2 &&
        m.some((x) => x.event === "state" && JSON.parse(x.data).counters.processed === 2);
    });
    assert.is((await sent!).status, 200);
    const msgs = got.filter((m) => m.event === "message");
    assert.equal(msgs.map((m) => JSON.parse(m.data).event.index), [0, 1]);
    assert.equal(msgs.map((m) => Number(m.id)), [1, 2]);
    assert.ok(
      await eventually(() => s().ckpt.context.watchers.size === 0),
      "a stream the client closed is forgotten",
    );

    const again = await c("/v1/stages/live/watch", { headers: { ...admin, "last-event-id": "1" } });
    const replayed = await readSse(
      again,
      (m) => m.some((x) => x.event === "message" && x.id === "2"),
    );
    assert.equal(replayed.filter((m) => m.event === "message").map((m) => m.id), ["2"]);
  });

  test(`[${t}] a held run whose client goes silent is released; the next begin records the crash`, async () => {
    const c = call();
    const { runId } = await body(
      await send(c, "POST", "/v1/stages/silent/runs", { total: 3, leaseMs: 150 }),
    );
    await send(c, "POST", `/v1/stages/silent/runs/${runId}/updates`, {
      updates: [{ type: "item", index: 0 }],
    });
    clocks[t].advance(450);
    const late = await send(c, "POST", `/v1/stages/silent/runs/${runId}/updates`, { updates: [] });
    assert.is(late.status, 409);
    assert.is((await body(late)).error.code, "CKPT_LEASE_LOST", "a coded lease lost, not 404");
    const r = await send(c, "POST", "/v1/stages/silent/runs", { total: 3, leaseMs: 150 });
    const again = await body(r);
    assert.is(r.status, 201);
    assert.is(again.resumed.crashed, true);
    assert.is(again.resumed.skipped, 1);
    await send(c, "DELETE", `/v1/stages/silent/runs/${again.runId}`);
  });

  test(`[${t}] reset and delete are refused while a run is live, then work`, async () => {
    const c = call();
    const { runId } = await body(await send(c, "POST", "/v1/stages/doomed/runs", { total: 2 }));
    await send(c, "POST", `/v1/stages/doomed/runs/${runId}/updates`, {
      updates: [{ type: "item", index: 0 }],
    });
    const locked = await send(c, "POST", "/v1/stages/doomed/reset", { reason: "redo" });
    assert.is(locked.status, 409);
    assert.is((await body(locked)).error.code, "CKPT_LOCKED");
    assert.is((await c("/v1/stages/doomed", { method: "DELETE", headers: admin })).status, 409);
    await send(c, "POST", `/v1/stages/doomed/runs/${runId}/updates`, {
      updates: [{ type: "fail", message: "bad data" }],
    });
    const reset = await c("/v1/stages/doomed/reset", { method: "POST", headers: admin });
    assert.is(reset.status, 200);
    const st = await body(reset);
    assert.equal([st.status, st.counters.processed], ["initialized", 0]);
    assert.is((await c("/v1/stages/doomed", { method: "DELETE", headers: admin })).status, 204);
    assert.is((await get(c, "/v1/stages/doomed")).status, 404);
    assert.is((await c("/v1/stages/doomed", { method: "DELETE", headers: admin })).status, 404);
  });

  test(`[${t}] compaction: policy checked, report returned, state unchanged`, async () => {
    const c = call();
    const { runId } = await body(await send(c, "POST", "/v1/stages/old/runs", { total: 300 }));
    await send(c, "POST", `/v1/stages/old/runs/${runId}/updates`, {
      updates: [...Array.from({ length: 300 }, (_, i) => ({ type: "item", index: i })), {
        type: "complete",
      }],
    });
    const before = await body(await get(c, "/v1/stages/old"));
    assert.is((await send(c, "POST", "/v1/compact", {})).status, 400);
    const dry = await body(
      await send(c, "POST", "/v1/compact", {
        maxEvents: 10,
        minEvents: 10,
        prefix: "old",
        dryRun: true,
      }),
    );
    assert.is(dry.dryRun, true);
    assert.is((await s().inner.info("old"))?.first, 0);
    const rep = await body(
      await send(c, "POST", "/v1/compact", { maxEvents: 10, minEvents: 10, prefix: "old" }),
    );
    assert.equal(rep.stages.map((x: { stage: string; action: string }) => [x.stage, x.action]), [[
      "old",
      "compacted",
    ]]);
    assert.ok(rep.eventsRemoved > 250);
    assert.ok(((await s().inner.info("old"))?.first ?? 0) > 250);
    const after = await body(await get(c, "/v1/stages/old"));
    assert.equal(after.counters, before.counters);
    assert.is(after.revision, before.revision);
    const replay = lines(await (await get(c, "/v1/stages/old/events")).text());
    assert.is(replay.length, 10);
  });

  test(`[${t}] /metrics speaks Prometheus: requests, appends, latency histogram, stages by status`, async () => {
    const text = await (await get(call(), "/metrics")).text();
    assert.match(
      text,
      /ckpt_http_requests_total\{method="POST",route="\/v1\/stages\/:stage\/runs",status="201"\} \d+/,
    );
    assert.match(text, /ckpt_log_appends_total [1-9]\d*/);
    assert.match(text, /ckpt_log_append_duration_seconds_bucket\{le="\+Inf"\} [1-9]\d*/);
    assert.match(text, /ckpt_stages\{status="completed"\} [1-9]/);
    assert.match(text, /# TYPE ckpt_log_append_duration_seconds histogram/);
  });

  test(`[${t}] raw log: info, append with If-Match / If-None-Match, NDJSON reads, streams, snapshots, truncate, delete`, async () => {
    const c = call();
    const info = await body(await get(c, "/v1/log"));
    assert.equal(info.supports, {
      durable: true,
      multiProcess: true,
      atomicSnapshot: true,
      reclaimsSpace: true,
    });
    const ev = (type: string, extra: object = {}) => ({ type, v: 1, at: Date.now(), ...extra });
    const first = await send(c, "POST", "/v1/log/streams/raw-1/events", {
      events: [ev("run.started", { runId: "w1" }), ev("item", { index: 0, outcome: "ok" })],
    }, { "if-none-match": "*" });
    assert.is(first.status, 200);
    assert.equal(await body(first), { head: 1 });
    const again = await send(c, "POST", "/v1/log/streams/raw-1/events", {
      events: [ev("item", { index: 1, outcome: "ok" })],
    }, { "if-none-match": "*" });
    assert.is(again.status, 409);
    assert.is((await body(again)).error.code, "CKPT_CONFLICT");
    const next = await send(c, "POST", "/v1/log/streams/raw-1/events", {
      events: [ev("item", { index: 1, outcome: "ok" }), ev("item", { index: 2, outcome: "ok" })],
      snapshot: { revision: 3, version: 1, state: { any: "thing" } },
    }, { "if-match": '"1"' });
    assert.equal(await body(next), { head: 3 });
    assert.is(
      (await send(c, "POST", "/v1/log/streams/raw-1/events", {
        events: [ev("item", { index: 9, outcome: "ok" })],
      })).status,
      200,
      "no header: any revision",
    );
    const read = lines(await (await get(c, "/v1/log/streams/raw-1/events?from=1&limit=2")).text());
    assert.equal(read.map((e) => e.revision), [1, 2]);
    const back = lines(
      await (await get(c, "/v1/log/streams/raw-1/events?direction=backward&limit=2")).text(),
    );
    assert.equal(back.map((e) => e.revision), [4, 3]);
    assert.equal(await (await get(c, "/v1/log/streams/never/events")).text(), "");
    const streams = await body(await get(c, "/v1/log/streams?prefix=raw-"));
    assert.equal(streams.streams.map((x: { stream: string; head: number }) => [x.stream, x.head]), [
      ["raw-1", 4],
    ]);
    const one = await get(c, "/v1/log/streams/raw-1");
    assert.is(one.headers.get("etag"), '"4"');
    assert.is((await get(c, "/v1/log/streams/never")).status, 404);
    assert.equal((await body(await get(c, "/v1/log/streams/raw-1/snapshot"))).state, {
      any: "thing",
    });
    assert.is(
      (await send(c, "PUT", "/v1/log/streams/raw-1/snapshot", {
        revision: 4,
        version: 1,
        state: { n: 4 },
      })).status,
      204,
    );
    assert.equal((await body(await get(c, "/v1/log/streams/raw-1/snapshot?which=latest"))).state, {
      n: 4,
    });
    assert.is((await get(c, "/v1/log/streams/raw-1/snapshot?which=base")).status, 404);
    const foreign = await send(c, "POST", "/v1/log/streams/raw-1/truncate", {
      revision: 2,
      base: { revision: 1, version: 1, state: { base: 1 } },
    });
    assert.is(foreign.status, 400, "a base that is not the log's own state is refused");
    assert.is((await body(foreign)).error.code, "CKPT_INVALID");
    assert.is((await body(await get(c, "/v1/log/streams/raw-1"))).first, 0, "nothing changed");
    const base = toSnapshot(await baseAt(s().inner, (await s().inner.info("raw-1"))!, 2));
    assert.is(
      (await send(c, "POST", "/v1/log/streams/raw-1/truncate", { revision: 2, base })).status,
      204,
    );
    assert.is((await body(await get(c, "/v1/log/streams/raw-1"))).first, 2);
    assert.equal(
      (await body(await get(c, "/v1/log/streams/raw-1/snapshot?which=base"))).state,
      JSON.parse(JSON.stringify(base.state)),
    );
    assert.is((await c("/v1/log/streams/raw-1", { method: "DELETE", headers: admin })).status, 204);
    assert.is((await get(c, "/v1/log/streams/raw-1")).status, 404);
  });

  test(`[${t}] raw appends are checked against the stage: a bad transition is refused and nothing is written`, async () => {
    const c = call();
    const item = { type: "item", v: 1, at: Date.now(), index: 0, outcome: "ok" };
    const r = await send(c, "POST", "/v1/log/streams/fresh/events", { events: [item] });
    assert.is(r.status, 409);
    assert.is((await body(r)).error.code, "CKPT_BAD_TRANSITION");
    assert.is(await s().inner.info("fresh"), undefined);
    const snapAhead = await send(c, "POST", "/v1/log/streams/fresh/events", {
      events: [{ type: "run.started", v: 1, at: 1, runId: "x" }],
      snapshot: { revision: 5, version: 1, state: {} },
    });
    assert.is(snapAhead.status, 400);
    assert.is(await s().inner.info("fresh"), undefined);
  });
}

test.run();
