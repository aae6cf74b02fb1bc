/**
 * The dashboard's server side, on Node and Deno, through app.request() and over real HTTP on a
 * loopback port: its files (public, gzipped, with a strict CSP, measured), item lineage, the stage
 * insight, the state at a past revision or time, and the all-stages live stream. The page itself is
 * tested in a real browser in test/browser/.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { stageInsight } from "../../core/insight.ts";
import { ASSETS } from "../../server/dashboard-assets.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { bearer, type Call, caller, type Sidecar, sidecar, TOKENS } from "./helpers.ts";
import { readSse } from "./sse.ts";

type Transport = "app" | "http";
const sidecars: Partial<Record<Transport, Sidecar>> = {};
// The live stream's coalescing timer runs on these clocks: a test flushes it by moving time, not by
// waiting.
const clocks = { app: manualClock(), http: manualClock() };
const read = bearer(TOKENS.read);
// deno-lint-ignore no-explicit-any
const body = async (r: Response) => (await r.json()) as Record<string, any>;

test.before(async () => {
  for (const t of ["app", "http"] as const) {
    const s = (sidecars[t] = await sidecar({
      auth: true,
      serve: t === "http",
      store: { clock: clocks[t] },
    }));
    // One story for item 4: an error, a failure, a retry that is only a duplicate, a reopen, then a
    // new run's success.
    const stage = s.store.stage("fetch");
    const run = await stage.begin({ total: 10 });
    await run.error("timeout", { retryable: true, index: 4 });
    await run.done(4, { ok: false, error: "HTTP 500" });
    await run.done(4, { cost: 0.5 });
    for (let i = 0; i < 4; i++) await run.done(i, { cost: 0.25 });
    await run.done(7, { skipped: true, error: "robots.txt disallows" });
    await run.pause("night");
    await run.close();
    const again = await stage.begin({ verify: (i) => i !== 4 });
    await again.done(4, { cost: 1 });
    await again.complete();
    await again.close();
  }
});
test.after(async () => {
  for (const s of Object.values(sidecars)) await s?.close();
});

for (const t of ["app", "http"] as const) {
  const s = () => sidecars[t]!;
  const call = (): Call => caller(s(), t);
  const get = (path: string, headers: Record<string, string> = read) => call()(path, { headers });

  test(`[${t}] the page and its files are public, gzipped, small and locked down by CSP`, async () => {
    assert.is((await get("/v1/stages", {})).status, 401, "the API still needs a token");
    let plain = 0;
    let gzipped = 0;
    for (const [path, asset] of Object.entries(ASSETS)) {
      const r = await get(path, {});
      assert.is(r.status, 200, path);
      assert.is(r.headers.get("content-type"), asset.type);
      assert.match(r.headers.get("content-security-policy") ?? "", "script-src 'self'");
      plain += (await r.arrayBuffer()).byteLength;
      const z = await get(path, { "accept-encoding": "gzip" });
      assert.is(z.headers.get("content-encoding"), "gzip");
      const etag = z.headers.get("etag")!;
      // app.request() hands back the bytes as sent; fetch() decodes them, so count the raw stream
      // there.
      gzipped += t === "app"
        ? (await z.arrayBuffer()).byteLength
        : Number((await gzipSize(s().url + path)) ?? 0);
      if (t === "app") assert.is((await get(path, { "if-none-match": etag })).status, 304);
    }
    const html = await (await get("/", {})).text();
    assert.match(html, '<script src="/dashboard/app.js"');
    assert.not.match(html, "cdn", "nothing comes from elsewhere");
    console.log(
      `[${t}] dashboard files: ${(plain / 1024).toFixed(1)} KiB, ${
        (gzipped / 1024).toFixed(1)
      } KiB gzipped`,
    );
    assert.ok(gzipped > 0 && gzipped < 48 * 1024, `gzipped total ${gzipped}`);
  });

  test(`[${t}] item lineage: every event that touched the item, with its effect, run and worker`, async () => {
    const r = await get("/v1/stages/fetch/items/4");
    assert.is(r.status, 200);
    const l = await body(r);
    assert.equal(
      l.entries.map((e: Record<string, unknown>) => [e.type, e.effect, e.outcome]),
      [
        ["error", "error", null],
        ["item", "recorded", "failed"],
        ["item", "duplicate", "ok"],
        ["item.reopened", "reopened", null],
        ["item", "recorded", "ok"],
      ],
    );
    assert.is(l.done, true);
    assert.is(l.outcome, "ok");
    assert.is(l.attempts, 3);
    assert.is(l.errors, 1);
    assert.is(l.cost, 1.5);
    assert.is(l.entries[0].retryable, true);
    assert.is(l.entries[1].error, "HTTP 500");
    assert.is(l.entries[3].reason, "verify check failed");
    assert.type(l.entries[1].pid, "number");
    assert.ok(
      l.entries[1].runId !== l.entries[4].runId,
      "the last attempt came from the second run",
    );

    const skipped = await body(await get("/v1/stages/fetch/items/7"));
    assert.is(skipped.outcome, "skipped");
    assert.is(skipped.entries[0].error, "robots.txt disallows");
    const never = await body(await get("/v1/stages/fetch/items/9"));
    assert.equal([never.done, never.entries], [false, []]);
  });

  test(`[${t}] item lineage refuses what it cannot answer: no token, bad index, no stage`, async () => {
    assert.is((await get("/v1/stages/fetch/items/4", {})).status, 401);
    const bad = await get("/v1/stages/fetch/items/-1");
    assert.is(bad.status, 400);
    assert.is((await body(bad)).error.code, "CKPT_INVALID");
    const missing = await get("/v1/stages/nope/items/1");
    assert.is(missing.status, 404);
    assert.is((await body(missing)).error.code, "CKPT_NOT_FOUND");
  });

  test(`[${t}] the state at a revision or a time is the replay's, as \`ckpt replay --at\` prints it`, async () => {
    const at3 = await body(await get("/v1/stages/fetch/at?revision=3"));
    assert.is(at3.revision, 3);
    assert.is(at3.state.counters.processed, 1);
    assert.is(at3.state.counters.duplicates, 1);
    assert.is(at3.progress.done, 1);
    const expected = [];
    for await (const e of s().store.stage("fetch").replay({ to: 3 })) {
      expected.push(JSON.parse(JSON.stringify(e.state)));
    }
    assert.equal(at3.state, expected.at(-1));
    const byTime = await body(await get(`/v1/stages/fetch/at?time=${at3.at}`));
    assert.ok(byTime.revision >= 3 && byTime.at === at3.at);
    const head = await body(await get("/v1/stages/fetch"));
    assert.is(
      (await body(await get("/v1/stages/fetch/at?revision=999999"))).revision,
      head.revision,
    );
    const before = await get("/v1/stages/fetch/at?time=1");
    assert.is(before.status, 404);
    assert.is((await body(before)).error.code, "CKPT_NOT_FOUND");
    for (const q of ["", "?revision=1&time=1", "?revision=x"]) {
      assert.is((await get(`/v1/stages/fetch/at${q}`)).status, 400, q);
    }
  });

  test(`[${t}] insight: the timeline with owners, errors grouped by message, a progress series`, async () => {
    const i = await body(await get("/v1/stages/fetch/insight"));
    assert.equal(
      i.timeline.map((e: { type: string }) => e.type),
      ["run.started", "paused", "run.started", "completed"],
    );
    assert.type(i.timeline[0].pid, "number");
    assert.is(i.timeline[1].detail, "night");
    assert.is(Object.keys(i.owners).length, 2);
    const groups = Object.fromEntries(i.errors.map((g: { message: string }) => [g.message, g]));
    assert.equal([groups.timeout.count, groups.timeout.retryable, groups.timeout.indices], [
      1,
      true,
      [4],
    ]);
    assert.equal([groups["HTTP 500"].count, groups["HTTP 500"].retryable], [1, false]);
    assert.ok(i.series.length >= 3);
    assert.is(i.series.at(-1).processed, 6);
  });

  test(`[${t}] insight is kept per stage and caught up: the same as a full fold, and a recreated stage starts afresh`, async () => {
    const stage = s().store.stage("cached");
    const full = async () =>
      JSON.parse(JSON.stringify(await stageInsight(stage.replay(), "cached")));
    let run = await stage.begin({ total: 4 });
    await run.done(0, { ok: false, error: "first" });
    await run.flush();
    assert.equal(await body(await get("/v1/stages/cached/insight")), await full());
    await run.done(1, { ok: false, error: "first" });
    await run.pause("later");
    await run.close();
    const caught = await body(await get("/v1/stages/cached/insight"));
    assert.equal(caught, await full());
    assert.is(caught.errors[0].count, 2);
    await stage.delete();
    clocks[t].advance(1000); // the cache tells a recreated stage apart by its creation time
    run = await stage.begin({ total: 9 });
    await run.done(5);
    await run.done(6);
    await run.done(7, { ok: false, error: "second life" });
    await run.close();
    const fresh = await body(await get("/v1/stages/cached/insight"));
    assert.equal(fresh, await full());
    assert.equal(fresh.errors.map((g: { message: string }) => g.message), ["second life"]);
    assert.equal(fresh.timeline.map((e: { type: string }) => e.type), ["run.started"]);
    await stage.delete();
  });

  test(`[${t}] /v1/watch: every stage on connect, then each change and deletion`, async () => {
    if (t === "app") {
      assert.is((await get("/v1/watch", {})).status, 401);
      return;
    }
    const ctrl = new AbortController();
    const res = await fetch(`${s().url}/v1/watch`, { headers: read, signal: ctrl.signal });
    assert.is(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    let connected!: () => void;
    const listed = new Promise<void>((r) => (connected = r));
    const live = readSse(
      res,
      (all) => (all.length > 0 && connected(), all.some((m) => m.event === "deleted")),
      8000,
    );
    await listed; // every stage sent: changes from now on are live
    const other = s().store.stage("other:1");
    const run = await other.begin({ total: 2 });
    await run.done(0);
    await run.complete();
    await run.close();
    clocks[t].advance(200); // the stream coalesces changes per stage for 200 ms
    await other.delete();
    clocks[t].advance(200);
    const msgs = await live;
    ctrl.abort();
    const first = JSON.parse(msgs[0]!.data);
    assert.is(msgs[0]!.event, "stages");
    assert.ok(first.stages.some((x: { stage: string }) => x.stage === "fetch"));
    const states = msgs.filter((m) => m.event === "state").map((m) => JSON.parse(m.data));
    assert.is(states.length, 1, `coalesced: ${states.length} messages for 3 events`);
    assert.is(states.at(-1).stage, "other:1");
    assert.is(states.at(-1).status, "completed");
    assert.equal(JSON.parse(msgs.at(-1)!.data), { stage: "other:1" });
  });
}

/**
 * Bytes on the wire for `url` with gzip asked for (node's fetch decodes bodies, so read the raw
 * socket through node:http).
 */
async function gzipSize(url: string): Promise<number> {
  const { get } = await import("node:http");
  return new Promise((resolve, reject) => {
    get(url, { headers: { "accept-encoding": "gzip" } }, (res) => {
      let n = 0;
      res.on("data", (d: Uint8Array) => (n += d.length));
      res.on("end", () => resolve(n));
    }).on("error", reject);
  });
}

test.run();
