/**
 * The Node server's hot path for single updates (server/hot-updates.ts) answers exactly as the app
 * does: the same raw HTTP requests, sent to two identical sidecars served by node.ts, one without the
 * hot path and one with it, get the same statuses, headers, bodies and request metrics, good
 * requests and every way of getting one wrong, including what only a raw socket can send (odd Host
 * headers, backslashes, dot segments, repeated headers, a body that never comes). What the hot path
 * does not claim is left to the app, and the test counts what it served.
 */
import { connect } from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { memoryLog } from "../../adapters/memory.ts";
import { type CkptApp, createApp } from "../../server/app.ts";
import { parseTokens } from "../../server/auth.ts";
import type { HotPath } from "../../server/hot-updates.ts";
import type { Listener } from "../../server/listen.ts";
import { listen } from "../../server/node.ts";
import { serverStore } from "../../server/store.ts";
import { sleep, TOKEN_SPEC, TOKENS } from "./helpers.ts";

const BODY_LIMIT = 4096;
const STAGE = "hot";
const WRITE = `Bearer ${TOKENS.write}`;

interface Req {
  path?: string;
  method?: string;
  /** Sent as given, in order (repeats allowed); host, authorization and content-type default. */
  headers?: [string, string][];
  body?: string | Uint8Array;
  /** Send the headers (declaring this many body bytes) and never the body. */
  stall?: number;
}
interface Answer {
  status: number;
  headers: Record<string, string | null>;
  body: string;
}

const COMPARED_HEADERS = ["content-type", "etag", "retry-after", "connection"];

/** One request on its own connection, written byte for byte; the answer as read off the socket. */
function rawSend(port: number, runId: string, r: Req): Promise<Answer> {
  const path = (r.path ?? `/v1/stages/${STAGE}/runs/{run}/updates`).replace("{run}", runId);
  const body = typeof r.body === "string" ? new TextEncoder().encode(r.body) : r.body;
  const given = r.headers ?? [];
  const has = (n: string) => given.some(([k]) => k.toLowerCase() === n);
  const lines = [`${r.method ?? "POST"} ${path} HTTP/1.1`];
  if (!has("host")) lines.push(`host: 127.0.0.1:${port}`);
  if (!has("authorization")) lines.push(`authorization: ${WRITE}`);
  if (!has("content-type")) lines.push("content-type: application/json");
  for (const [k, v] of given) lines.push(`${k}: ${v}`);
  if (r.stall !== undefined) lines.push(`content-length: ${r.stall}`);
  else if (body) lines.push(`content-length: ${body.length}`);
  lines.push("connection: close", "", "");
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const got: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), 3000);
    socket.on("data", (c: Buffer) => got.push(c));
    socket.on("error", reject);
    socket.on("close", () => {
      clearTimeout(timer);
      try {
        resolve(parse(Buffer.concat(got).toString("latin1"), runId));
      } catch (err) {
        reject(err);
      }
    });
    socket.write(lines.join("\r\n"));
    if (body && r.stall === undefined) socket.write(body);
  });
}

/** Status, the compared headers and the (de-chunked) body of a raw HTTP/1.1 answer. */
function parse(raw: string, runId: string): Answer {
  const cut = raw.indexOf("\r\n\r\n");
  if (cut < 0) return { status: 0, headers: {}, body: raw };
  const [status, ...fields] = raw.slice(0, cut).split("\r\n");
  const all = new Map(fields.map((f) => {
    const i = f.indexOf(":");
    return [f.slice(0, i).toLowerCase(), f.slice(i + 1).trim()] as const;
  }));
  let body = raw.slice(cut + 4);
  if (all.get("transfer-encoding") === "chunked") {
    let out = "";
    for (let at = 0;;) {
      const end = body.indexOf("\r\n", at);
      const size = parseInt(body.slice(at, end), 16);
      if (!size) break;
      out += body.slice(end + 2, end + 2 + size);
      at = end + 2 + size + 2;
    }
    body = out;
  }
  const headers: Record<string, string | null> = {};
  for (const h of COMPARED_HEADERS) headers[h] = all.get(h) ?? null;
  return {
    status: Number(status!.split(" ")[1]),
    headers,
    body: Buffer.from(body, "latin1").toString("utf8").replaceAll(runId, "<run>"),
  };
}

interface Side {
  ckpt: CkptApp;
  port: number;
  runId: string;
  send(r: Req): Promise<Answer>;
  close(): Promise<void>;
}

/**
 * A sidecar over a memory log with a run begun on STAGE, served by node.ts; `hot` wraps its hot path
 * (absent: served without one, the app alone).
 */
async function side(
  o: { maxInFlight?: number; hot?: (h: HotPath) => HotPath } = {},
): Promise<Side> {
  const store = serverStore(memoryLog());
  const ckpt = createApp(store, {
    tokens: parseTokens(TOKEN_SPEC, "test"),
    bodyLimit: BODY_LIMIT,
    onError: (e) => console.error("INTERNAL", e),
  });
  const begin = await ckpt.fetch(
    new Request(`http://app.invalid/v1/stages/${STAGE}/runs`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: WRITE },
      body: JSON.stringify({ leaseMs: 600_000 }),
    }),
  );
  assert.is(begin.status, 201);
  const { runId } = (await begin.json()) as { runId: string };
  // Limits set after the begin, so a cap of 0 refuses the updates only.
  if (o.maxInFlight !== undefined) ckpt.context.limits.maxInFlight = o.maxInFlight;
  const listener: Listener = await listen(ckpt.fetch, {
    host: "127.0.0.1",
    port: 0,
    ...(o.hot ? { hot: o.hot(ckpt.hot) } : {}),
  });
  return {
    ckpt,
    port: listener.port,
    runId,
    send: (r) => rawSend(listener.port, runId, r),
    async close() {
      await ckpt.drain(1000);
      await listener.close(1000);
      await store.close().catch(() => undefined);
    },
  };
}

/** Counts the requests the hot path served. */
function counted(n: { served: number }) {
  return (h: HotPath): HotPath => ({
    claim: h.claim,
    serve: (...a) => (n.served++, h.serve(...a)),
  });
}

/** Every request counter (the updates route's and the refusals counted before any route). */
async function metricsOf(s: Side): Promise<string[]> {
  const res = await s.ckpt.fetch(
    new Request("http://app.invalid/metrics", {
      headers: { authorization: `Bearer ${TOKENS.admin}` },
    }),
  );
  assert.is(res.status, 200);
  return (await res.text()).split("\n").filter((l) =>
    l.startsWith("ckpt_http_requests_total{") && !l.includes('route="/metrics"')
  );
}

const body = (updates: unknown) => JSON.stringify({ updates });
let deep: unknown = 1;
for (let i = 0; i < 70; i++) deep = [deep];

/** Requests in order: [name, request, claimed by the hot path]. */
const CASES: [string, Req, boolean][] = [
  ["one item", { body: body([{ type: "item", index: 1 }]) }, true],
  ["admin token", {
    body: body([{ type: "item", index: 2 }]),
    headers: [["authorization", `Bearer ${TOKENS.admin}`]],
  }, true],
  ["two items", { body: body([{ type: "item", index: 3 }, { index: 4, type: "item" }]) }, true],
  ["not the quick shape", {
    body: body([{ type: "item", index: 5, ok: false, error: "boom" }, {
      type: "progress",
      total: 9,
    }]),
  }, true],
  ["charset", {
    body: body([{ type: "item", index: 6 }]),
    headers: [["content-type", "application/json; charset=utf-8"]],
  }, true],
  ["empty list", { body: body([]) }, true],
  [
    "no token",
    { body: body([{ type: "item", index: 7 }]), headers: [["authorization", ""]] },
    true,
  ],
  ["wrong token", {
    body: body([{ type: "item", index: 7 }]),
    headers: [["authorization", "Bearer nope-0123456789"]],
  }, true],
  ["read token", {
    body: body([{ type: "item", index: 7 }]),
    headers: [["authorization", `Bearer ${TOKENS.read}`]],
  }, true],
  ["basic auth", {
    body: body([{ type: "item", index: 7 }]),
    headers: [["authorization", "Basic eDp5"]],
  }, true],
  ["unknown run", {
    path: `/v1/stages/${STAGE}/runs/nope-123/updates`,
    body: body([{ type: "item", index: 7 }]),
  }, true],
  ["bad run id", {
    path: `/v1/stages/${STAGE}/runs/bad!id/updates`,
    body: body([{ type: "item", index: 7 }]),
  }, true],
  ["bad stage name", {
    path: "/v1/stages/-x/runs/{run}/updates",
    body: body([{ type: "item", index: 7 }]),
  }, true],
  ["other stage", {
    path: "/v1/stages/other/runs/{run}/updates",
    body: body([{ type: "item", index: 7 }]),
  }, true],
  ["bad JSON", { body: '{"updates":[' }, true],
  ["bad UTF-8", { body: new Uint8Array([0x7b, 0xff, 0x7d]) }, true],
  ["null body", { body: "null" }, true],
  ["array body", { body: "[]" }, true],
  ["negative index", { body: body([{ type: "item", index: -1 }]) }, true],
  ["unknown type", { body: body([{ type: "nope" }]) }, true],
  ["extra key", { body: JSON.stringify({ updates: [], more: 1 }) }, true],
  ["too deep", { body: body([{ type: "metadata", metadata: { x: deep } }]) }, true],
  ["If-Match wrong", {
    body: body([{ type: "item", index: 8 }]),
    headers: [["if-match", '"999"']],
  }, true],
  ["If-Match malformed", {
    body: body([{ type: "item", index: 8 }]),
    headers: [["if-match", "soon"]],
  }, true],
  ["at the body limit", {
    body: body([{ type: "item", index: 9 }]).replace("{", "{" + " ".repeat(BODY_LIMIT - 39)),
  }, true],
  ["over the body limit", { body: " ".repeat(BODY_LIMIT + 1) }, false],
  ["text/plain", {
    body: body([{ type: "item", index: 10 }]),
    headers: [["content-type", "text/plain"]],
  }, false],
  ["query string", {
    path: `/v1/stages/${STAGE}/runs/{run}/updates?x=1`,
    body: body([{ type: "item", index: 11 }]),
  }, false],
  ["escaped stage", {
    path: "/v1/stages/h%6Ft/runs/{run}/updates",
    body: body([{ type: "item", index: 12 }]),
  }, false],
  ["empty body", { body: "" }, false],
  ["GET", { method: "GET" }, false],
  ["repeated authorization", {
    body: body([{ type: "item", index: 14 }]),
    headers: [["authorization", WRITE], ["authorization", WRITE]],
  }, true],
  ["repeated If-Match", {
    body: body([{ type: "item", index: 14 }]),
    headers: [["if-match", '"1"'], ["if-match", '"2"']],
  }, true],
  ["upper-case Host", {
    body: body([{ type: "item", index: 15 }]),
    headers: [["host", "LOCALHOST"]],
  }, false],
  ["Host with a port past 65535", {
    body: body([{ type: "item", index: 15 }]),
    headers: [["host", "localhost:99999"]],
  }, false],
  ["Host of an IPv6 address", {
    body: body([{ type: "item", index: 15 }]),
    headers: [["host", "[::1]:8080"]],
  }, false],
  ["backslash", { path: `/v1/stages/${STAGE}/runs/{run}\\x/updates`, body: "{}" }, false],
  ["dot segment", { path: "/v1/stages/./runs/{run}/updates", body: "{}" }, false],
  ["dot-dot segment", { path: "/v1/stages/x/runs/../updates", body: "{}" }, false],
  ["quote in a segment", { path: '/v1/stages/a"b/runs/{run}/updates', body: "{}" }, false],
  ["trailing slash", { path: `/v1/stages/${STAGE}/runs/{run}/updates/`, body: "{}" }, false],
  ["a body that never comes, no token", { stall: 100, headers: [["authorization", ""]] }, true],
  ["a body that never comes, unknown run", {
    stall: 100,
    path: `/v1/stages/${STAGE}/runs/nope-123/updates`,
  }, true],
  ["complete", { body: body([{ type: "complete" }]) }, true],
  ["after complete", { body: body([{ type: "item", index: 13 }]) }, true],
];

test("the same raw requests with and without the hot path: the same answers and metrics", async () => {
  const n = { served: 0 };
  const [a, b] = [await side(), await side({ hot: counted(n) })];
  try {
    const send = async ([name, req]: (typeof CASES)[number]) => {
      const [x, y] = [await a.send(req), await b.send(req)];
      assert.equal(y, x, name);
    };
    const last = CASES.findIndex(([name]) => name === "complete");
    for (const c of CASES.slice(0, last)) await send(c);
    // The If-Match that fits, from each side's own last answer.
    const etagOf = async (s: Side) =>
      (await s.send({ body: body([{ type: "item", index: 20 }]) })).headers.etag!;
    const fitting = (etag: string): Req => ({
      body: body([{ type: "item", index: 21 }]),
      headers: [["if-match", etag]],
    });
    const [ea, eb] = [await etagOf(a), await etagOf(b)];
    const fits = await a.send(fitting(ea));
    assert.is(fits.status, 200, fits.body);
    assert.equal(await b.send(fitting(eb)), fits, "If-Match that fits");
    for (const c of CASES.slice(last)) await send(c);
    assert.is(n.served, CASES.filter(([, , c]) => c).length + 2, "requests the hot path served");
    const [ma, mb] = [await metricsOf(a), await metricsOf(b)];
    assert.ok(ma.length >= 8, ma.join("\n"));
    assert.equal(mb, ma, "request metrics");
    assert.equal([a.ckpt.context.status.inFlight, b.ckpt.context.status.inFlight], [0, 0]);
  } finally {
    await a.close();
    await b.close();
  }
});

test("busy and shutting down: the same refusals, counted alike", async () => {
  const n = { served: 0 };
  const ok = { body: body([{ type: "item", index: 1 }]) };
  const [a, b] = [await side({ maxInFlight: 0 }), await side({ maxInFlight: 0, hot: counted(n) })];
  try {
    const x = await a.send(ok);
    assert.is(x.status, 429);
    assert.equal(await b.send(ok), x);
    const stalled = { stall: 100 };
    assert.equal(await b.send(stalled), await a.send(stalled), "busy, body never sent");
    a.ckpt.context.limits.maxInFlight = b.ckpt.context.limits.maxInFlight = 10;
    const draining = [a.ckpt.drain(0), b.ckpt.drain(0)];
    const y = await a.send(ok);
    assert.is(y.status, 503);
    assert.equal(await b.send(ok), y);
    await Promise.all(draining);
    assert.is(n.served, 3);
    assert.equal(await metricsOf(b), await metricsOf(a));
  } finally {
    await a.close();
    await b.close();
  }
});

test("a client that goes away mid-body: refused and counted as the app does, nothing left in flight", async () => {
  const n = { served: 0 };
  const [a, b] = [await side(), await side({ hot: counted(n) })];
  try {
    for (const s of [a, b]) {
      const socket = connect(s.port, "127.0.0.1");
      await new Promise<void>((resolve) => socket.once("connect", resolve));
      socket.write(
        `POST /v1/stages/${STAGE}/runs/${s.runId}/updates HTTP/1.1\r\nhost: 127.0.0.1:${s.port}\r\n` +
          `authorization: ${WRITE}\r\ncontent-type: application/json\r\n` +
          `content-length: 100\r\n\r\n{"updates":[`,
      );
      await sleep(50);
      socket.destroy();
    }
    const refused = async (s: Side) =>
      (await metricsOf(s)).some((l) => l.includes("/updates") && l.includes('status="400"'));
    const settled = async () =>
      (await refused(a)) && (await refused(b)) && a.ckpt.context.status.inFlight === 0 &&
      b.ckpt.context.status.inFlight === 0;
    for (let t = 0; t < 100 && !(await settled()); t++) await sleep(20);
    const [ma, mb] = [await metricsOf(a), await metricsOf(b)];
    assert.ok(await refused(a), ma.join("\n"));
    assert.equal(mb, ma);
    assert.equal([a.ckpt.context.status.inFlight, b.ckpt.context.status.inFlight], [0, 0]);
    const next = await b.send({ body: body([{ type: "item", index: 1 }]) });
    assert.is(next.status, 200, next.body);
    assert.is(n.served, 2);
  } finally {
    await a.close();
    await b.close();
  }
});

test.run();
