/**
 * Bad input never reaches the log and never gives a 5xx: malformed JSON, wrong types, huge
 * bodies, unknown fields, negative indices, path-like stage names, invalid UTF-8, wrong content
 * types. Each case runs through app.request() and over real HTTP; afterwards the log is byte for
 * byte what it was and the sidecar still answers.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { bearer, caller, eventually, json, type Sidecar, sidecar, TOKENS } from "./helpers.ts";

const auth = bearer(TOKENS.admin);
const SMALL_LOG_LIMIT = 64 * 1024;
let app: Sidecar;
let http: Sidecar;
let runId: Record<"app" | "http", string>;

interface Case {
  name: string;
  path: string;
  init: () => RequestInit;
  status: number;
  code?: string;
}

const raw = (method: string, body: BodyInit, type = "application/json"): RequestInit => ({
  method,
  headers: { ...auth, "content-type": type },
  body,
});
/** `{"a":{"a":…}}` nested `n` objects deep. */
const deep = (n: number) => '{"a":'.repeat(n - 1) + "{}" + "}".repeat(n - 1);
const ev = (extra: object) => ({ type: "item", v: 1, at: 1, index: 1, outcome: "ok", ...extra });

function cases(run: string): Case[] {
  const updates = `/v1/stages/good/runs/${run}/updates`;
  const events = "/v1/log/streams/good/events";
  return [
    {
      name: "malformed JSON",
      path: updates,
      init: () => raw("POST", '{"updates": [ {"type": "item", '),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "JSON that is not an object",
      path: updates,
      init: () => raw("POST", "[1,2,3]"),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "empty body",
      path: updates,
      init: () => raw("POST", ""),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "wrong type: index as string",
      path: updates,
      init: () => json("POST", { updates: [{ type: "item", index: "3" }] }, auth),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "wrong type: total as string",
      path: "/v1/stages/other/runs",
      init: () => json("POST", { total: "ten" }, auth),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "negative index",
      path: updates,
      init: () => json("POST", { updates: [{ type: "item", index: -1 }] }, auth),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "fractional index",
      path: updates,
      init: () => json("POST", { updates: [{ type: "item", index: 1.5 }] }, auth),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "index beyond safe integers",
      path: updates,
      init: () => raw("POST", '{"updates":[{"type":"item","index":1e300}]}'),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "unknown field in an update",
      path: updates,
      init: () => json("POST", { updates: [{ type: "item", index: 1, colour: "red" }] }, auth),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "unknown field in begin",
      path: "/v1/stages/other/runs",
      init: () => json("POST", { totl: 5 }, auth),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "unknown update type",
      path: updates,
      init: () => json("POST", { updates: [{ type: "explode" }] }, auth),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "a bad update poisons the whole batch",
      path: updates,
      init: () =>
        json("POST", { updates: [{ type: "item", index: 5 }, { type: "item", index: -5 }] }, auth),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "input fingerprint that is not SHA-256",
      path: "/v1/stages/other/runs",
      init: () => json("POST", { input: { sha256: "abc" } }, auth),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "raw event with a negative index",
      path: events,
      init: () => json("POST", { events: [ev({ index: -1 })] }, auth),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "raw event of an unknown type",
      path: events,
      init: () => json("POST", { events: [{ type: "drop.tables", v: 1, at: 1 }] }, auth),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "raw event with an unknown field",
      path: events,
      init: () => json("POST", { events: [ev({ extra: true })] }, auth),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "raw event from a future version",
      path: events,
      init: () => json("POST", { events: [ev({ v: 2 })] }, auth),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "raw append with a stale If-Match",
      path: events,
      init: () => json("POST", { events: [ev({})] }, { ...auth, "if-match": '"0"' }),
      status: 409,
      code: "CKPT_CONFLICT",
    },
    {
      name: "raw append with a garbled If-Match",
      path: events,
      init: () => json("POST", { events: [ev({})] }, { ...auth, "if-match": "yesterday" }),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "raw append with both If-Match and If-None-Match",
      path: events,
      init: () =>
        json("POST", { events: [ev({})] }, { ...auth, "if-match": '"1"', "if-none-match": "*" }),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "snapshot without a state",
      path: "/v1/log/streams/good/snapshot",
      init: () => json("PUT", { revision: 0, version: 1 }, auth),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "truncate at a negative revision",
      path: "/v1/log/streams/good/truncate",
      init: () =>
        json("POST", { revision: -3, base: { revision: 0, version: 1, state: {} } }, auth),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "invalid UTF-8",
      path: updates,
      init: () => raw("POST", new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "text/plain body",
      path: updates,
      init: () => raw("POST", '{"updates":[]}', "text/plain"),
      status: 415,
      code: "CKPT_UNSUPPORTED_MEDIA_TYPE",
    },
    {
      name: "no content type",
      path: updates,
      init: () => ({
        method: "POST",
        headers: auth,
        body: new Uint8Array(new TextEncoder().encode('{"updates":[]}')),
      }),
      status: 415,
      code: "CKPT_UNSUPPORTED_MEDIA_TYPE",
    },
    {
      name: "a body over 1 MiB",
      path: updates,
      init: () =>
        json("POST", { updates: [{ type: "error", message: "x".repeat(1100 * 1024) }] }, auth),
      status: 413,
      code: "CKPT_TOO_LARGE",
    },
    {
      name: "a raw batch over the log limit",
      path: events,
      init: () =>
        json("POST", { events: Array.from({ length: 2000 }, (_, i) => ev({ index: i })) }, auth),
      status: 413,
      code: "CKPT_TOO_LARGE",
    },
    {
      name: "path-like stage name (../)",
      path: "/v1/stages/..%2F..%2Fetc%2Fpasswd",
      init: () => ({ headers: auth }),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "dot segments (%2E%2E) resolve away: no such route",
      path: "/v1/log/streams/%2E%2E/events",
      init: () => json("POST", { events: [] }, auth),
      status: 404,
      code: "CKPT_NOT_FOUND",
    },
    {
      name: "path-like stream name (..x)",
      path: "/v1/log/streams/..x/events",
      init: () => json("POST", { events: [] }, auth),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "stage name with a slash",
      path: "/v1/stages/a%2Fb/runs",
      init: () => json("POST", {}, auth),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "stage name with a NUL",
      path: "/v1/stages/a%00b",
      init: () => ({ headers: auth }),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "stage name starting with a dot",
      path: "/v1/stages/.hidden/runs",
      init: () => json("POST", {}, auth),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "stage name over 200 characters",
      path: `/v1/stages/${"s".repeat(201)}/runs`,
      init: () => json("POST", {}, auth),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "negative from in a query",
      path: "/v1/log/streams/good/events?from=-1",
      init: () => ({ headers: auth }),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "a query parameter given twice",
      path: "/v1/log/streams/good/events?from=1&from=2",
      init: () => ({ headers: auth }),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "an unknown query parameter",
      path: "/v1/stages?colour=red",
      init: () => ({ headers: auth }),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "a time that is not a time",
      path: "/v1/stages/good/events?since=tomorrow",
      init: () => ({ headers: auth }),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "run id that is not one",
      path: "/v1/stages/good/runs/..%2Fx/updates",
      init: () => json("POST", { updates: [] }, auth),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "a run that does not exist",
      path: "/v1/stages/good/runs/00000000-0000-0000-0000-000000000000/updates",
      init: () => json("POST", { updates: [] }, auth),
      status: 404,
      code: "CKPT_NOT_FOUND",
    },
    {
      name: "an unknown stage",
      path: "/v1/stages/no-such-stage",
      init: () => ({ headers: auth }),
      status: 404,
      code: "CKPT_NOT_FOUND",
    },
    {
      name: "metadata nested 1,450 deep on a held run",
      path: updates,
      init: () => raw("POST", `{"updates":[{"type":"metadata","metadata":${deep(1450)}}]}`),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "config nested 5,000 deep in begin",
      path: "/v1/stages/other/runs",
      init: () => raw("POST", `{"config":${deep(5000)}}`),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "raw event metadata nested 2,000 deep",
      path: events,
      init: () =>
        raw("POST", `{"events":[{"type":"metadata","v":1,"at":1,"metadata":${deep(2000)}}]}`),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "body nested 65 deep (one past the limit)",
      path: updates,
      init: () => raw("POST", `{"updates":[{"type":"metadata","metadata":${deep(62)}}]}`),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "truncate with a base that is not the log's state",
      path: "/v1/log/streams/good/truncate",
      init: () => json("POST", { revision: 1, base: { revision: 0, version: 1, state: {} } }, auth),
      status: 400,
      code: "CKPT_INVALID",
    },
    {
      name: "metadata too deep for its key limit",
      path: updates,
      init: () =>
        json("POST", { updates: [{ type: "metadata", metadata: { ["k".repeat(300)]: 1 } }] }, auth),
      status: 400,
      code: "CKPT_INVALID",
    },
  ];
}

test.before(async () => {
  app = await sidecar({ auth: true, app: { logBodyLimit: SMALL_LOG_LIMIT } });
  http = await sidecar({ auth: true, serve: true, app: { logBodyLimit: SMALL_LOG_LIMIT } });
  runId = { app: "", http: "" };
  for (const [t, s] of [["app", app], ["http", http]] as const) {
    const r = await caller(s, t)(
      "/v1/stages/good/runs",
      json("POST", { total: 10, leaseMs: 600_000 }, auth),
    ); // a long lease: no heartbeat writes during the test
    runId[t] = ((await r.json()) as { runId: string }).runId;
    await caller(s, t)(
      `/v1/stages/good/runs/${runId[t]}/updates`,
      json("POST", { updates: [{ type: "item", index: 0 }] }, auth),
    );
  }
});
test.after(async () => {
  await app.close();
  await http.close();
});

/** Everything the log holds, as text: heads, every event and snapshot of every stream. */
async function dump(s: Sidecar): Promise<string> {
  const out: unknown[] = [];
  for (const info of await s.inner.streams()) {
    const events = [];
    for await (const e of s.inner.read(info.stream)) events.push(e);
    out.push(info.stream, info.head, info.first, events, await s.inner.loadSnapshot(info.stream));
  }
  return JSON.stringify(out);
}

for (const t of ["app", "http"] as const) {
  test(`[${t}] every bad request is a 4xx with its code, and the log is unchanged`, async () => {
    const s = t === "app" ? app : http;
    const call = caller(s, t);
    const before = await dump(s);
    for (const c of cases(runId[t])) {
      const res = await call(c.path, c.init());
      const text = await res.text();
      assert.is(res.status, c.status, `${c.name}: ${text.slice(0, 300)}`);
      if (c.code) assert.is(JSON.parse(text).error.code, c.code, c.name);
      assert.ok(JSON.parse(text).error.message.length > 10, `${c.name}: says what is wrong`);
    }
    assert.is(await dump(s), before, "nothing reached the log");
    assert.is((await call("/healthz")).status, 200);
    const ok = await call(
      `/v1/stages/good/runs/${runId[t]}/updates`,
      json("POST", { updates: [{ type: "item", index: 1 }] }, auth),
    );
    assert.is(ok.status, 200, "the sidecar still takes good requests");
    const st = (await (await call("/v1/stages/good", { headers: auth })).json()) as {
      counters: { processed: number };
    };
    assert.is(st.counters.processed, 2);
  });
}

test("[http] a chunked body over the limit (no Content-Length) is cut off with 413", async () => {
  const big = new TextEncoder().encode(
    JSON.stringify({ updates: [{ type: "error", message: "y".repeat(2 * 1024 * 1024) }] }),
  );
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < big.length; i += 64 * 1024) c.enqueue(big.subarray(i, i + 64 * 1024));
      c.close();
    },
  });
  const before = await dump(http);
  const res = await fetch(`${http.url}/v1/stages/good/runs/${runId.http}/updates`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: stream,
    duplex: "half",
  } as RequestInit);
  assert.is(res.status, 413);
  assert.is(((await res.json()) as { error: { code: string } }).error.code, "CKPT_TOO_LARGE");
  assert.is(await dump(http), before);
  assert.is((await fetch(`${http.url}/healthz`)).status, 200);
});

test("[app] too many requests at once: 429 with Retry-After, and nothing written", async () => {
  const s = await sidecar({ app: { maxInFlight: 1 } });
  try {
    // Hold the one slot with a request whose body has not finished arriving.
    let finish!: () => void;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('{"total":'));
        finish = () => {
          c.enqueue(new TextEncoder().encode("3}"));
          c.close();
        };
      },
    });
    const slow = s.ckpt.app.request(
      "/v1/stages/busy/runs",
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        duplex: "half",
      } as RequestInit,
    );
    assert.ok(
      await eventually(() => s.ckpt.context.status.inFlight === 1),
      "the slow request holds the slot",
    );
    const refused = await s.ckpt.app.request("/v1/stages/busy2/runs", json("POST", { total: 1 }));
    assert.is(refused.status, 429);
    assert.is(refused.headers.get("retry-after"), "1");
    assert.is(((await refused.json()) as { error: { code: string } }).error.code, "CKPT_BUSY");
    assert.is(
      (await s.ckpt.app.request("/healthz")).status,
      200,
      "health checks are never refused",
    );
    finish();
    assert.is((await slow).status, 201);
    assert.equal((await s.inner.streams()).map((x) => x.stream), ["busy"]);
    assert.match(await (await s.ckpt.app.request("/metrics")).text(), /ckpt_http_rejected_total 1/);
  } finally {
    await s.close();
  }
});

test.run();
