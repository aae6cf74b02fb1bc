/**
 * One wire protocol: the HTTP adapter, the sidecar's routes and /openapi.json all come from
 * protocol/, and this checks they agree. Every request the adapter sends (against a real sidecar on
 * loopback) validates on its endpoint's schemas; an answer that drifted from the schema fails with
 * CKPT_IO naming the route; the OpenAPI document lists exactly the endpoints protocol/ defines,
 * with the same schemas.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { z } from "zod";
import { connectHttpLog, httpLog } from "../../adapters/http.ts";
import type { CkptEvent } from "../../core/events.ts";
import type { EventLog } from "../../core/log.ts";
import type { Endpoint } from "../../protocol/common.ts";
import { Log } from "../../protocol/log.ts";
import { Ops } from "../../protocol/ops.ts";
import { Stages } from "../../protocol/stages.ts";
import { type Sidecar, sidecar, TOKENS } from "./helpers.ts";

let s: Sidecar;
test.before(async () => {
  s = await sidecar({ serve: true, auth: true });
});
test.after(async () => {
  await s.close();
});

const ALL: readonly Endpoint[] = [
  ...Object.values(Log),
  ...Object.values(Stages),
  ...Object.values(Ops),
];
const key = (e: { method: string; path: string }) => `${e.method} ${e.path}`;
const started = (runId = "r"): CkptEvent => ({
  type: "run.started",
  v: 1,
  at: 1_700_000_000_000,
  runId,
});
const item = (index: number): CkptEvent => ({
  type: "item",
  v: 1,
  at: 1_700_000_000_001,
  index,
  outcome: "ok",
});
const routeOf = (err: unknown) => (err as { details?: { route?: string } }).details?.route;

/** The endpoint a request is for: its method, and its path matching the pattern whole. */
function endpointFor(
  method: string,
  path: string,
): { e: Endpoint; params: Record<string, string> } | undefined {
  for (const e of ALL) {
    if (e.method !== method) continue;
    const m = new RegExp(`^${e.path.replace(/:([A-Za-z0-9_]+)/g, "(?<$1>[^/]+)")}$`).exec(path);
    if (m) {
      return {
        e,
        params: Object.fromEntries(
          Object.entries(m.groups ?? {}).map(([k, v]) => [k, decodeURIComponent(v)]),
        ),
      };
    }
  }
  return undefined;
}

test("every request the HTTP adapter sends validates on its endpoint's schemas, and every /v1/log endpoint is used", async () => {
  const sent: { method: string; url: URL; body: string | undefined }[] = [];
  const recording: typeof fetch = (input, init) => {
    sent.push({
      method: init?.method ?? "GET",
      url: new URL(String(input)),
      body: typeof init?.body === "string" ? init.body : undefined,
    });
    return fetch(input, init);
  };
  const log = await connectHttpLog({ url: s.url, token: TOKENS.admin, fetch: recording });
  const stream = "wire.stage:1";
  await log.append(stream, [started()], { expectedRevision: "no_stream" });
  await log.append(stream, [item(0), item(1)], {
    expectedRevision: 0,
    snapshot: { revision: 2, version: 1, state: { any: "json" } },
  });
  await log.append(stream, [item(2)], { expectedRevision: "any" });
  for await (const _ of log.read(stream, { from: 1, limit: 2, direction: "forward" })) void _;
  for await (const _ of log.read(stream, { direction: "backward" })) void _;
  for await (const _ of log.readBatches!(stream, { from: 0 })) void _;
  assert.is((await log.streams({ prefix: "wire." })).length, 1);
  assert.is((await log.info(stream))?.head, 3);
  await log.saveSnapshot(stream, { revision: 3, version: 1, state: [1, 2] });
  assert.ok(await log.loadSnapshot(stream));
  await log.loadSnapshot(stream, "base");
  // Refused or not (its base is not the stage's own state), the request itself matches the schema.
  await log.truncateBefore!(stream, 2, { revision: 1, version: 1, state: {} }, {
    expectedRevision: 3,
  }).catch((e) => assert.not.equal(e.code, undefined));
  await log.delete(stream, { expectedRevision: 3 });

  const used = new Set<string>();
  for (const r of sent) {
    const found = endpointFor(r.method, r.url.pathname);
    assert.ok(found, `no endpoint for ${r.method} ${r.url.pathname}`);
    const { e, params } = found!;
    used.add(key(e));
    const where = `${r.method} ${r.url.pathname}${r.url.search}`;
    if (e.params) assert.ok(e.params.safeParse(params).success, `params of ${where}`);
    const query = Object.fromEntries(r.url.searchParams);
    if (e.query) {
      assert.ok(e.query.safeParse(query).success, `query of ${where}: ${JSON.stringify(query)}`);
    } else assert.is(r.url.search, "", `${where} has no query in the protocol`);
    if (e.body) {
      const parsed = e.body.safeParse(JSON.parse(r.body ?? "null"));
      assert.ok(
        parsed.success,
        `body of ${where}: ${parsed.success ? "" : z.prettifyError(parsed.error)}`,
      );
    } else assert.is(r.body, undefined, `${where} has no body in the protocol`);
  }
  assert.equal(
    [...used].sort(),
    Object.values(Log).map(key).sort(),
    "the adapter uses exactly the /v1/log endpoints",
  );
});

test("an answer that drifted from its endpoint's schema is CKPT_IO naming the route, for every /v1/log endpoint with a body", async () => {
  const answering = (body: string, type = "application/json"): typeof fetch => async () =>
    new Response(body, { status: 200, headers: { "content-type": type } });
  const log = (body: string, type?: string): EventLog =>
    httpLog({ url: "http://127.0.0.1:9", fetch: answering(body, type), retryForMs: 0 });
  const drifts: [Endpoint, () => Promise<unknown>][] = [
    [
      Log.info,
      () =>
        connectHttpLog({
          url: "http://127.0.0.1:9",
          fetch: answering('{"supports":{"durable":"yes"},"server":"x"}'),
        }),
    ],
    [
      Log.streams,
      () => log('{"streams":[{"stream":"a","head":"3","first":0,"updatedAt":1}]}').streams(),
    ],
    [Log.stream, () => log('{"stream":"a"}').info("a")],
    [
      Log.append,
      () => log('{"head":"1"}').append("a", [started()], { expectedRevision: "no_stream" }),
    ],
    [Log.loadSnapshot, () => log('{"revision":1,"version":1}').loadSnapshot("a")],
    [
      Log.read,
      async () => {
        for await (
          const _ of log(
            '{"revision":0,"event":{"type":"run.started","v":1,"at":1,"runId":"r"}}\n{"revision":1,"event":{"type":"no.such.event"}}\n',
            "application/x-ndjson",
          ).read("a")
        ) void _;
      },
    ],
  ];
  assert.equal(
    drifts.map(([e]) => key(e)).sort(),
    (Object.values(Log) as Endpoint[]).filter((e) => e.response).map(key).sort(),
    "every endpoint with a response body is covered",
  );
  for (const [e, call] of drifts) {
    const err = await call().then(() => undefined, (x: unknown) => x);
    assert.ok(err, `${key(e)}: a drifted answer was accepted`);
    assert.is((err as { code?: string }).code, "CKPT_IO", `${key(e)}: ${(err as Error).message}`);
    assert.is(routeOf(err), key(e));
    assert.ok((err as Error).message.includes(key(e)), (err as Error).message);
  }
  const notJson = await log("<html>proxy error</html>", "text/html").streams().catch((x: unknown) =>
    x
  );
  assert.is((notJson as { code?: string }).code, "CKPT_IO");
  assert.is(routeOf(notJson), key(Log.streams));
  // Fields a newer sidecar adds are not drift: they are dropped, not refused.
  const info = await log('{"stream":"a","head":3,"first":0,"updatedAt":1,"newField":true}').info(
    "a",
  );
  assert.equal(info, { stream: "a", head: 3, first: 0, updatedAt: 1 });
});

test("a request the server's schema refuses comes back CKPT_INVALID with every issue under its place (body, query, path)", async () => {
  const log = httpLog({ url: s.url, token: TOKENS.write });
  const bad = { type: "item", v: 1, at: 1, index: -1, outcome: "maybe" } as unknown as CkptEvent;
  const err =
    (await log.append("wire.bad", [started(), bad], { expectedRevision: "no_stream" }).catch((e) =>
      e
    )) as { code: string; message: string; issues: { path: (string | number)[] }[] };
  assert.is(err.code, "CKPT_INVALID");
  assert.match(err.message, /^Invalid request body: body\.events\.1\./);
  assert.ok(
    err.issues.length >= 1 &&
      err.issues.every((i) => i.path[0] === "body" && i.path[1] === "events"),
    JSON.stringify(err.issues),
  );
  assert.is(await log.info("wire.bad"), undefined, "nothing was written");
  const res = await fetch(`${s.url}/v1/log/streams/wire.bad/events?limit=x`, {
    headers: { authorization: `Bearer ${TOKENS.read}` },
  });
  assert.is(res.status, 400);
  const body = (await res.json()) as { error: { code: string; issues: { path: string[] }[] } };
  assert.equal(body.error.issues[0]!.path, ["query", "limit"]);
});

test("/openapi.json lists exactly the endpoints protocol/ defines, with their schemas", async () => {
  const doc = (await (await fetch(`${s.url}/openapi.json`)).json()) as {
    paths: Record<
      string,
      Record<
        string,
        {
          requestBody?: { content: Record<string, { schema: unknown }> };
          responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
        }
      >
    >;
  };
  const openApiPath = (p: string) => p.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
  const listed = Object.entries(doc.paths).flatMap(([p, ops]) =>
    Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)
  );
  assert.equal(listed.sort(), ALL.map((e) => `${e.method} ${openApiPath(e.path)}`).sort());
  // The same conversion openapi.ts makes: what a client sends, not what the server turns it into.
  const json = (s: z.ZodType) => {
    const out = z.toJSONSchema(s, { io: "input", unrepresentable: "any" }) as Record<
      string,
      unknown
    >;
    delete out.$schema;
    return out;
  };
  for (const e of ALL) {
    const op = doc.paths[openApiPath(e.path)]![e.method.toLowerCase()]!;
    if (e.body) {
      assert.equal(
        op.requestBody?.content["application/json"]?.schema,
        json(e.body),
        `${key(e)} request body`,
      );
    } else assert.is(op.requestBody, undefined, `${key(e)} has no request body`);
    const ok = Object.entries(op.responses).filter(([status]) => Number(status) < 300);
    assert.ok(ok.length > 0, `${key(e)} documents a success`);
    for (const [status, r] of ok) {
      const documented = r.content && Object.values(r.content)[0]?.schema;
      if (e.response) assert.equal(documented, json(e.response), `${key(e)} ${status}`);
      else {assert.is(
          documented,
          undefined,
          `${key(e)} ${status} documents no body the protocol does not define`,
        );}
    }
  }
});

test("an unparsable sidecar URL is named without its password", () => {
  const err = (() => {
    try {
      httpLog({ url: "http://worker:s3cret-token@sidecar:notaport/" });
    } catch (e) {
      return e as Error & { code?: string };
    }
    return undefined;
  })();
  assert.is(err?.code, "CKPT_INVALID");
  assert.not.match(err!.message, /s3cret/);
  assert.match(err!.message, /worker@sidecar/);
});

test.run();
