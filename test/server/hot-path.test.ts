/**
 * The single-update hot path's shortcuts behave exactly like the slow paths they replace: requests
 * gathered into one group commit are still checked one by one in arrival order (a bad one refused
 * alone, If-Match still exact) and answered only once durable; the JSON response matches Hono's
 * c.json; the shared UTF-8 decoder keeps no state between requests; the dot-segment pre-check gives
 * the full check's verdict.
 */
import { Hono } from "hono";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { has } from "../../core/resume-set.ts";
import { jsonResponse } from "../../server/json-response.ts";
import { quickItemUpdates } from "../../server/quick-updates.ts";
import { hasDotSegment } from "../../server/raw-replies.ts";
import { UpdatesBody } from "../../protocol/stages.ts";
import { caller, json, type Sidecar, sidecar } from "./helpers.ts";

let s: Sidecar;
const log = () => s.ckpt.context.log;

test.before(async () => {
  s = await sidecar({ serve: true });
});
test.after(async () => {
  await s.close();
});

async function begin(stage: string, via: "app" | "http" = "app"): Promise<string> {
  const res = await caller(s, via)(`/v1/stages/${stage}/runs`, json("POST", { leaseMs: 600_000 }));
  assert.is(res.status, 201, await res.clone().text());
  return ((await res.json()) as { runId: string }).runId;
}

/** Appends reaching the LevelDB log while `fn` runs. */
async function appendsDuring(fn: () => Promise<unknown>): Promise<number> {
  let n = 0;
  const stop = log().observe(() => n++);
  try {
    await fn();
  } finally {
    stop();
  }
  return n;
}

test("a burst of single updates to an idle run shares one group commit, and each answer means durable", async () => {
  const call = caller(s, "http");
  const appends: number[] = [];
  for (let k = 0; k < 5; k++) {
    const runId = await begin(`burst-${k}`, "http");
    // Connections opened first, so the burst's requests arrive together rather than as each
    // handshake ends.
    await Promise.all(Array.from({ length: 20 }, () => call("/healthz").then((r) => r.text())));
    let answers: Response[] = [];
    appends.push(
      await appendsDuring(async () => {
        answers = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            call(
              `/v1/stages/burst-${k}/runs/${runId}/updates`,
              json("POST", { updates: [{ type: "item", index: i }] }),
            )),
        );
      }),
    );
    assert.equal(answers.map((r) => r.status), Array(20).fill(200));
    const durable = (await log().projection(`burst-${k}`))!.state;
    for (let i = 0; i < 20; i++) assert.ok(has(durable.resume, i), `item ${i} durable`);
    for (const r of answers) {
      assert.ok(
        ((await r.json()) as { revision: number }).revision <= durable.revision,
        "no answer names a revision the log does not hold",
      );
    }
  }
  // Without gathering, the first request of a burst committed alone (two appends at least, every
  // time); arrival over HTTP is up to the machine, so one burst of five in a single commit is the
  // claim.
  assert.is(Math.min(...appends), 1, `appends per burst: ${appends.join(", ")}`);
});

test("within a group each request is still checked on its own: a bad transition is refused alone, nothing of it written", async () => {
  const runId = await begin("mixed");
  const call = caller(s, "app");
  const path = `/v1/stages/mixed/runs/${runId}/updates`;
  const answers = await Promise.all([
    call(path, json("POST", { updates: [{ type: "item", index: 0 }] })),
    call(path, json("POST", { updates: [{ type: "item", index: 1 }, { type: "resume" }] })), // resume while running: refused whole
    call(path, json("POST", { updates: [{ type: "item", index: 2 }] })),
  ]);
  assert.equal(answers.map((r) => r.status), [200, 409, 200]);
  assert.is(
    ((await answers[1]!.json()) as { error: { code: string } }).error.code,
    "CKPT_BAD_TRANSITION",
  );
  const state = (await log().projection("mixed"))!.state;
  assert.ok(has(state.resume, 0) && has(state.resume, 2));
  assert.not.ok(has(state.resume, 1), "nothing of the refused request was written");
});

test("within a group If-Match is exact: of two requests expecting the same revision one wins, one conflicts", async () => {
  const runId = await begin("ifmatch");
  const call = caller(s, "app");
  const path = `/v1/stages/ifmatch/runs/${runId}/updates`;
  const rev = (await log().projection("ifmatch"))!.state.revision;
  const answers = await Promise.all(
    [0, 1].map((i) =>
      call(
        path,
        json("POST", { updates: [{ type: "item", index: i }] }, { "if-match": `"${rev}"` }),
      )
    ),
  );
  assert.equal(answers.map((r) => r.status).sort(), [200, 409]);
  const lost = answers.find((r) => r.status === 409)!;
  assert.is(((await lost.json()) as { error: { code: string } }).error.code, "CKPT_CONFLICT");
});

test("a group whose run completes part-way: updates after the completion are refused, the rest durable", async () => {
  const runId = await begin("ending");
  const call = caller(s, "app");
  const path = `/v1/stages/ending/runs/${runId}/updates`;
  const answers = await Promise.all([
    call(path, json("POST", { updates: [{ type: "item", index: 0 }, { type: "complete" }] })),
    call(path, json("POST", { updates: [{ type: "item", index: 1 }] })),
  ]);
  assert.is(answers[0]!.status, 200);
  assert.ok([404, 409].includes(answers[1]!.status), `refused, got ${answers[1]!.status}`);
  const state = (await log().projection("ending"))!.state;
  assert.is(state.status, "completed");
  assert.not.ok(has(state.resume, 1));
});

test("the updates answer is what c.json gave: status, content type, ETag, body", async () => {
  const runId = await begin("answer", "http");
  const res = await caller(s, "http")(
    `/v1/stages/answer/runs/${runId}/updates`,
    json("POST", { updates: [{ type: "item", index: 7 }] }),
  );
  assert.is(res.status, 200);
  assert.is(res.headers.get("content-type"), "application/json");
  const body = (await res.json()) as {
    revision: number;
    status: string;
    counters: { successful: number };
    ended: boolean;
  };
  assert.is(res.headers.get("etag"), `"${body.revision}"`);
  assert.equal([body.status, body.counters.successful, body.ended], ["running", 1, false]);
});

test("jsonResponse and Hono's c.json give the same response", async () => {
  const hono = new Hono();
  const value = { revision: 41, status: "running", nested: { a: [1, "é", null] } };
  hono.get("/a", (c) => c.json(value, 200, { etag: '"41"' }));
  hono.get("/b", (c) => c.json(value, 201));
  for (
    const [path, ours] of [["/a", jsonResponse(value, 200, { etag: '"41"' })], [
      "/b",
      jsonResponse(value, 201),
    ]] as const
  ) {
    const theirs = await hono.request(path);
    assert.is(ours.status, theirs.status);
    assert.equal([...ours.headers].sort(), [...theirs.headers].sort());
    assert.is(await ours.text(), await theirs.text());
  }
});

test("the shared UTF-8 decoder keeps no state: a valid body after an invalid one (and a BOM) still reads", async () => {
  const runId = await begin("utf8");
  const call = caller(s, "http");
  const path = `/v1/stages/utf8/runs/${runId}/updates`;
  const raw = (body: Uint8Array): RequestInit => ({
    method: "POST",
    headers: { "content-type": "application/json" },
    body: body as Uint8Array<ArrayBuffer>,
  });
  const enc = (t: string) => new TextEncoder().encode(t);
  const truncated = new Uint8Array([...enc('{"updates":[{"type":"error","message":"'), 0xe2, 0x82]); // a cut multi-byte sequence
  const bad = await call(path, raw(truncated));
  assert.is(bad.status, 400);
  assert.is(((await bad.json()) as { error: { code: string } }).error.code, "CKPT_INVALID");
  const good = await call(path, raw(enc('{"updates":[{"type":"item","index":3}]}')));
  assert.is(good.status, 200, await good.clone().text());
  const bom = await call(
    path,
    raw(new Uint8Array([0xef, 0xbb, 0xbf, ...enc('{"updates":[{"type":"item","index":4}]}')])),
  );
  assert.is(bom.status, 200, await bom.clone().text());
});

test("the quick body check accepts only what UpdatesBody accepts, and gives what it gives", () => {
  const items = (n: number) => Array.from({ length: n }, (_, i) => ({ type: "item", index: i }));
  const texts = [
    '{"updates":[{"type":"item","index":7}]}',
    '{"updates":[{"index":7,"type":"item"}]}',
    '{"updates":[]}',
    '{"updates":[{"type":"item","index":-0}]}',
    '{"updates":[{"type":"item","index":0},{"type":"item","index":9007199254740991}]}',
    '{"updates":[{"type":"item","index":9007199254740992}]}',
    '{"updates":[{"type":"item","index":-1}]}',
    '{"updates":[{"type":"item","index":1.5}]}',
    '{"updates":[{"type":"item","index":1e300}]}',
    '{"updates":[{"type":"item","index":"3"}]}',
    '{"updates":[{"type":"item","index":null}]}',
    '{"updates":[{"type":"item"}]}',
    '{"updates":[{"index":3}]}',
    '{"updates":[{"type":"item","index":3,"ok":true}]}',
    '{"updates":[{"type":"item","index":3,"colour":"red"}]}',
    '{"updates":[{"type":"item","index":3,"__proto__":{"x":1}}]}',
    '{"updates":[{"type":"item","type":"item","index":3}]}',
    '{"updates":[{"type":"Item","index":3}]}',
    '{"updates":[{"type":"progress","ok":3}]}',
    '{"updates":[{"type":"complete"}]}',
    '{"updates":[{"type":"item","index":3},{"type":"item","index":-3}]}',
    '{"updates":[[]]}',
    '{"updates":[null]}',
    '{"updates":[7]}',
    '{"updates":{"0":{"type":"item","index":3}}}',
    '{"updates":null}',
    '{"updates":[{"type":"item","index":3}],"extra":1}',
    '{"__proto__":{"updates":[]}}',
    "{}",
    "[]",
    "null",
    "3",
    '"updates"',
  ];
  const inputs: unknown[] = [...texts.map((t) => JSON.parse(t)), { updates: items(20_000) }, {
    updates: items(20_001),
  }];
  let accepted = 0;
  for (const raw of inputs) {
    const quick = quickItemUpdates(raw);
    const full = UpdatesBody.safeParse(raw);
    if (quick === undefined) continue;
    accepted++;
    assert.ok(
      full.success,
      `quick accepted what the schema refuses: ${JSON.stringify(raw).slice(0, 80)}`,
    );
    assert.equal(quick, full.data);
  }
  assert.ok(accepted >= 6, `the shortcut takes the common shapes (took ${accepted})`);
});

test("remembered path parameters: a bad stage or run id is refused the same after good ones were seen", async () => {
  const runId = await begin("params", "http");
  const call = caller(s, "http");
  const ok = () =>
    call(
      `/v1/stages/params/runs/${runId}/updates`,
      json("POST", { updates: [{ type: "item", index: 1 }] }),
    );
  assert.is((await ok()).status, 200);
  assert.is((await ok()).status, 200);
  for (
    const path of [
      `/v1/stages/par..ams/runs/${runId}/updates`,
      `/v1/stages/params/runs/${runId}%20x/updates`,
      `/v1/stages/-params/runs/${runId}/updates`,
    ]
  ) {
    const res = await call(path, json("POST", { updates: [{ type: "item", index: 2 }] }));
    assert.is(res.status, 400, path);
    const body = (await res.json()) as { error: { code: string; issues: { path: unknown[] }[] } };
    assert.is(body.error.code, "CKPT_INVALID");
    assert.is(body.error.issues[0]!.path[0], "path");
  }
  // The query is still checked when there is one (this endpoint takes none), and an empty one is
  // none.
  const query = await call(
    `/v1/stages/params/runs/${runId}/updates?x=1`,
    json("POST", { updates: [{ type: "item", index: 3 }] }),
  );
  assert.is(query.status, 400);
  assert.is(
    (await call(
      `/v1/stages/params/runs/${runId}/updates?`,
      json("POST", { updates: [{ type: "item", index: 4 }] }),
    )).status,
    200,
  );
});

/** The check before the quick pre-check, kept here as the reference. */
function slowHasDotSegment(rawTarget: string | undefined): boolean {
  if (!rawTarget) return false;
  const path = rawTarget.split(/[?#]/, 1)[0]!;
  return path.split("/").some((seg) => /^(?:\.|%2e){1,2}$/i.test(seg));
}

test("the dot-segment pre-check gives the full check's verdict", () => {
  const parts = [
    "",
    "/",
    ".",
    "..",
    "%2e",
    "%2E",
    "%2e%2E",
    "a",
    "a.b",
    "%41",
    "?",
    "#",
    "x=..",
    "...",
    "%2",
  ];
  let n = 0;
  for (const a of parts) {
    for (const b of parts) {
      for (const c of parts) {
        const target = `/v1${a}/${b}/${c}`;
        assert.is(hasDotSegment(target), slowHasDotSegment(target), target);
        n++;
      }
    }
  }
  assert.is(hasDotSegment(undefined), false);
  assert.ok(n > 3000);
});

test.run();
