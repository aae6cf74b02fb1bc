/**
 * The Node server's hot path for single updates (server/hot-updates.ts) answers exactly as the app
 * does: the same requests, sent to two identical sidecars, one through `app.fetch` and one over
 * real HTTP through node.ts's listener with the hot path on, get the same statuses, headers,
 * bodies and request metrics, good requests and every way of getting one wrong. What the hot path
 * does not claim (queries, escapes, dot segments, other bodies) is left to the app.
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
import { bearer, sleep, TOKEN_SPEC, TOKENS } from "./helpers.ts";

const BODY_LIMIT = 4096;
const STAGE = "hot";

interface Side {
  ckpt: CkptApp;
  url: string;
  runId: string;
  /** Sends a request; the body's run id comes back as "<run>". */
  send(r: Req): Promise<Answer>;
  close(): Promise<void>;
}
interface Req {
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array<ArrayBuffer>;
}
interface Answer {
  status: number;
  headers: Record<string, string | null>;
  body: string;
}

const COMPARED_HEADERS = ["content-type", "etag", "retry-after"];

async function answer(res: Response, runId: string): Promise<Answer> {
  const headers: Record<string, string | null> = {};
  for (const h of COMPARED_HEADERS) headers[h] = res.headers.get(h);
  return { status: res.status, headers, body: (await res.text()).replaceAll(runId, "<run>") };
}

function request(base: string, r: Req, runId: string): Request {
  return new Request(
    base + (r.path ?? `/v1/stages/${STAGE}/runs/{run}/updates`).replace("{run}", runId),
    {
      method: r.method ?? "POST",
      headers: { "content-type": "application/json", ...bearer(TOKENS.write), ...r.headers },
      ...(r.body === undefined ? {} : { body: r.body }),
    },
  );
}

/** A sidecar over a memory log with a run begun on STAGE; `http`: served by node.ts with `hot`. */
async function side(
  via: "app" | "http",
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
      headers: { "content-type": "application/json", ...bearer(TOKENS.write) },
      body: JSON.stringify({ leaseMs: 600_000 }),
    }),
  );
  assert.is(begin.status, 201);
  const { runId } = (await begin.json()) as { runId: string };
  // Limits set after the begin, so a cap of 0 refuses the updates only.
  if (o.maxInFlight !== undefined) ckpt.context.limits.maxInFlight = o.maxInFlight;
  let listener: Listener | undefined;
  if (via === "http") {
    const hot = o.hot ? o.hot(ckpt.hot) : ckpt.hot;
    listener = await listen(ckpt.fetch, { host: "127.0.0.1", port: 0, hot });
  }
  const url = listener?.url ?? "http://app.invalid";
  return {
    ckpt,
    url,
    runId,
    send: async (r) =>
      answer(
        await (listener ? fetch(request(url, r, runId)) : ckpt.fetch(request(url, r, runId))),
        runId,
      ),
    async close() {
      await ckpt.drain(1000);
      await listener?.close(1000);
      await store.close().catch(() => undefined);
    },
  };
}

/** The request counters of the updates route. */
async function metricsOf(s: Side): Promise<string[]> {
  const res = await s.ckpt.fetch(
    new Request("http://app.invalid/metrics", { headers: bearer(TOKENS.admin) }),
  );
  assert.is(res.status, 200);
  return (await res.text()).split("\n").filter((l) => l.includes("/updates"));
}

/** Counts the requests the hot path served. */
function counted(n: { served: number }) {
  return (h: HotPath): HotPath => ({
    claim: h.claim,
    serve: (...a) => (n.served++, h.serve(...a)),
  });
}

const body = (updates: unknown) => JSON.stringify({ updates });
let deep: unknown = 1;
for (let i = 0; i < 70; i++) deep = [deep];

/** Requests in order: [name, request, claimed by the hot path]. */
const CASES: [string, Req, boolean][] = [
  ["one item", { body: body([{ type: "item", index: 1 }]) }, true],
  ["admin token", {
    body: body([{ type: "item", index: 2 }]),
    headers: bearer(TOKENS.admin),
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
    headers: { "content-type": "application/json; charset=utf-8" },
  }, true],
  ["empty list", { body: body([]) }, true],
  ["no token", { body: body([{ type: "item", index: 7 }]), headers: { authorization: "" } }, true],
  ["wrong token", {
    body: body([{ type: "item", index: 7 }]),
    headers: bearer("nope-0123456789"),
  }, true],
  ["read token", { body: body([{ type: "item", index: 7 }]), headers: bearer(TOKENS.read) }, true],
  ["basic auth", {
    body: body([{ type: "item", index: 7 }]),
    headers: { authorization: "Basic eDp5" },
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
    headers: { "if-match": '"999"' },
  }, true],
  ["If-Match malformed", {
    body: body([{ type: "item", index: 8 }]),
    headers: { "if-match": "soon" },
  }, true],
  ["at the body limit", {
    body: body([{ type: "item", index: 9 }]).replace("{", "{" + " ".repeat(BODY_LIMIT - 39)),
  }, true],
  ["over the body limit", { body: " ".repeat(BODY_LIMIT + 1) }, false],
  ["text/plain", {
    body: body([{ type: "item", index: 10 }]),
    headers: { "content-type": "text/plain" },
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
  ["complete", { body: body([{ type: "complete" }]) }, true],
  ["after complete", { body: body([{ type: "item", index: 13 }]) }, true],
];

test("the same requests through the app and through the hot path: the same answers and metrics", async () => {
  const n = { served: 0 };
  const [a, b] = [await side("app"), await side("http", { hot: counted(n) })];
  try {
    for (const [name, req] of CASES) {
      const [x, y] = [await a.send(req), await b.send(req)];
      assert.equal(y, x, name);
    }
    // The If-Match that fits, from each side's own last answer.
    const etagOf = async (s: Side) =>
      (await s.send({ body: body([{ type: "item", index: 20 }]) })).headers.etag!;
    const fitting = (etag: string): Req => ({
      body: body([{ type: "item", index: 21 }]),
      headers: { "if-match": etag },
    });
    const [ea, eb] = [await etagOf(a), await etagOf(b)];
    assert.equal(await b.send(fitting(eb)), await a.send(fitting(ea)), "If-Match that fits");
    const claimed = CASES.filter(([, , c]) => c).length + 2;
    assert.is(n.served, claimed, "requests the hot path served");
    const [ma, mb] = [await metricsOf(a), await metricsOf(b)];
    assert.ok(ma.length >= 5, ma.join("\n"));
    assert.equal(mb, ma, "request metrics");
  } finally {
    await a.close();
    await b.close();
  }
});

test("busy and shutting down: the same refusals", async () => {
  const n = { served: 0 };
  const ok = { body: body([{ type: "item", index: 1 }]) };
  const [a, b] = [
    await side("app", { maxInFlight: 0 }),
    await side("http", { maxInFlight: 0, hot: counted(n) }),
  ];
  try {
    const x = await a.send(ok);
    assert.is(x.status, 429);
    assert.equal(await b.send(ok), x);
    a.ckpt.context.limits.maxInFlight = b.ckpt.context.limits.maxInFlight = 10;
    const draining = [a.ckpt.drain(0), b.ckpt.drain(0)];
    const y = await a.send(ok);
    assert.is(y.status, 503);
    assert.equal(await b.send(ok), y);
    await Promise.all(draining);
    assert.is(n.served, 2);
  } finally {
    await a.close();
    await b.close();
  }
});

test("a client that goes away mid-body: refused as the app refuses it, and the server goes on", async () => {
  const n = { served: 0 };
  const b = await side("http", { hot: counted(n) });
  try {
    const { hostname, port } = new URL(b.url);
    const socket = connect(Number(port), hostname);
    await new Promise<void>((resolve) => socket.once("connect", resolve));
    socket.write(
      `POST /v1/stages/${STAGE}/runs/${b.runId}/updates HTTP/1.1\r\nhost: ${hostname}:${port}\r\n` +
        `authorization: Bearer ${TOKENS.write}\r\ncontent-type: application/json\r\n` +
        `content-length: 100\r\n\r\n{"updates":[`,
    );
    await sleep(50);
    socket.destroy();
    const counted400 = async () => (await metricsOf(b)).some((l) => l.includes('status="400"'));
    for (let t = 0; t < 100 && !(await counted400()); t++) await sleep(20);
    assert.ok(await counted400(), "the cut request is counted as refused (400)");
    const next = await b.send({ body: body([{ type: "item", index: 1 }]) });
    assert.is(next.status, 200, next.body);
    assert.is(n.served, 2);
  } finally {
    await b.close();
  }
});

test.run();
