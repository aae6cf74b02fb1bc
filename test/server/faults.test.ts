/**
 * ckpt-server under faults: a damaged stage is listed as broken without taking listings down; a
 * held run's lease is taken over within leaseMs + one heartbeat and its late client hears
 * CKPT_LEASE_LOST; a join reports where the stage stands (and a crash when there was one); and on a
 * real Node listener, raw-socket oddities (dot segments, bad HTTP, huge headers, a body that never
 * comes, a client that hangs up) get coded JSON replies and no error log.
 */
import type { ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { manualClock } from "../helpers/manual-clock.ts";
import {
  bearer,
  isDeno,
  json,
  serverEntry,
  type Sidecar,
  sidecar,
  sleep,
  spawnTs,
  TOKENS,
} from "./helpers.ts";

const admin = bearer(TOKENS.admin);
let s: Sidecar;
// Leases run on this clock: the tests below let one lapse by moving it, not by sleeping through it.
const clock = manualClock();

test.before(async () => {
  s = await sidecar({ auth: true, store: { clock } });
});
test.after(async () => {
  await s.close();
});

const call = (path: string, init: RequestInit = {}) =>
  s.ckpt.app.request(path, {
    ...init,
    headers: { ...admin, ...(init.headers as Record<string, string>) },
  });
const send = (method: string, path: string, body?: unknown) => call(path, json(method, body));
// deno-lint-ignore no-explicit-any
const body = async (r: Response): Promise<any> => r.json();

test("a stage whose base cannot be rebuilt is listed as broken; listings of the others keep working", async () => {
  const { runId } = await body(await send("POST", "/v1/stages/fine/runs", { total: 2 }));
  await send("POST", `/v1/stages/fine/runs/${runId}/updates`, {
    updates: [{ type: "item", index: 0 }, { type: "complete" }],
  });
  // Damage written straight to the log under the sidecar (the HTTP route refuses this base).
  const at = Date.now();
  await s.inner.append("wrecked", [{ type: "run.started", v: 1, at, runId: "r" }, {
    type: "item",
    v: 1,
    at,
    index: 0,
    outcome: "ok",
  }], { expectedRevision: "no_stream" });
  await s.inner.truncateBefore("wrecked", 1, { revision: 0, version: 1, state: {} });

  const stages = await call("/v1/stages");
  assert.is(stages.status, 200);
  const list = await body(stages);
  assert.equal(list.stages.map((x: { stage: string }) => x.stage), ["fine"]);
  assert.equal(
    list.broken.map((
      b: { stage: string; code: string; status: string },
    ) => [b.stage, b.status, b.code]),
    [["wrecked", "broken", "CKPT_CORRUPT"]],
  );
  const report = await call("/v1/report");
  assert.is(report.status, 200);
  const r = await body(report);
  assert.is(r.totals.stages, 1);
  assert.is(r.broken[0].code, "CKPT_CORRUPT");
  const metrics = await call("/metrics");
  assert.is(metrics.status, 200);
  const text = await metrics.text();
  assert.match(text, 'ckpt_stages{status="broken"} 1');
  assert.match(text, 'ckpt_stages{status="completed"} 1');
  assert.is(
    (await call("/v1/stages/wrecked")).status,
    500,
    "the stage itself still says what is wrong",
  );
});

test("the issue's truncate request is refused with 400 and changes nothing", async () => {
  const { runId } = await body(await send("POST", "/v1/stages/held/runs", { total: 60 }));
  await send("POST", `/v1/stages/held/runs/${runId}/updates`, {
    updates: Array.from({ length: 50 }, (_, i) => ({ type: "item", index: i })),
  });
  const before = await s.inner.info("held");
  const r = await send("POST", "/v1/log/streams/held/truncate", {
    revision: 1,
    base: { revision: 0, version: 1, state: {} },
  });
  assert.is(r.status, 400);
  assert.is((await body(r)).error.code, "CKPT_INVALID");
  assert.equal(await s.inner.info("held"), before, "nothing changed");
  assert.is((await call("/v1/stages")).status, 200);
  assert.is((await call("/v1/stages/held")).status, 200);
  await send("DELETE", `/v1/stages/held/runs/${runId}`);
});

test("deep metadata on a held run: 400, the head does not move, and the next update works", async () => {
  const { runId } = await body(await send("POST", "/v1/stages/deep/runs", { total: 10 }));
  await send("POST", `/v1/stages/deep/runs/${runId}/updates`, {
    updates: [{ type: "item", index: 0 }],
  });
  const head = (await s.inner.info("deep"))!.head;
  const nested = '{"a":'.repeat(1449) + "{}" + "}".repeat(1449);
  const r = await call(`/v1/stages/deep/runs/${runId}/updates`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: `{"updates":[{"type":"metadata","metadata":${nested}}]}`,
  });
  assert.is(r.status, 400);
  assert.is((await body(r)).error.code, "CKPT_INVALID");
  assert.is((await s.inner.info("deep"))!.head, head, "the head did not move");
  const ok = await send("POST", `/v1/stages/deep/runs/${runId}/updates`, {
    updates: [{ type: "item", index: 1 }],
  });
  assert.is(ok.status, 200, "no CKPT_CONFLICT afterwards");
  await send("DELETE", `/v1/stages/deep/runs/${runId}`);
});

test("a silent client's lease is taken over within leaseMs + one heartbeat; its late update hears CKPT_LEASE_LOST", async () => {
  const leaseMs = 800;
  const a = await body(await send("POST", "/v1/stages/lease/runs", { total: 10, leaseMs }));
  await send("POST", `/v1/stages/lease/runs/${a.runId}/updates`, {
    updates: [{ type: "item", index: 0 }],
  });
  clock.advance(leaseMs + leaseMs / 4 + 100);
  const b = await send("POST", "/v1/stages/lease/runs", { total: 10, leaseMs });
  const bb = await body(b);
  assert.is(b.status, 201, JSON.stringify(bb));
  assert.is(bb.resumed.crashed, true);
  const late = await send("POST", `/v1/stages/lease/runs/${a.runId}/updates`, {
    updates: [{ type: "item", index: 1 }],
  });
  assert.is(late.status, 409);
  assert.is((await body(late)).error.code, "CKPT_LEASE_LOST");
  await send("DELETE", `/v1/stages/lease/runs/${bb.runId}`);
});

test("joining a live run reports the items done; joining after its only client died reports the crash", async () => {
  const leaseMs = 800;
  const a = await body(
    await send("POST", "/v1/stages/joined/runs", { total: 500, leaseMs, join: true }),
  );
  await send("POST", `/v1/stages/joined/runs/${a.runId}/updates`, {
    updates: Array.from({ length: 400 }, (_, i) => ({ type: "item", index: i })),
  });
  const b = await body(
    await send("POST", "/v1/stages/joined/runs", { total: 500, leaseMs, join: true }),
  );
  assert.is(b.joined, true);
  assert.equal([b.resumed.crashed, b.resumed.skipped], [false, 400]);
  assert.match(b.resumed.message, "joining live run");
  // Nobody is heard from for longer than the lease: the next joiner finds a crash.
  clock.advance(leaseMs + leaseMs / 4 + 100);
  const c = await send("POST", "/v1/stages/joined/runs", { total: 500, leaseMs, join: true });
  const cc = await body(c);
  assert.is(c.status, 201, JSON.stringify(cc));
  assert.equal([cc.joined, cc.resumed.crashed, cc.resumed.skipped], [false, true, 400]);
  const events = await (await call("/v1/log/streams/joined/events")).text();
  assert.is(
    events.split("\n").filter((l) => l.includes('"crash.detected"')).length,
    1,
    "crash.detected written once",
  );
  await send("DELETE", `/v1/stages/joined/runs/${cc.runId}`);
});

/** Sends raw bytes, returns what came back before the server closed (or `timeoutMs` passed). */
function rawRequest(
  port: number,
  bytes: string,
  o: { timeoutMs?: number; hangUpAfterMs?: number } = {},
): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(port, "127.0.0.1");
    let got = "";
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(got);
    };
    const timer = setTimeout(done, o.timeoutMs ?? 8000);
    sock.on("data", (d) => (got += d));
    sock.on("close", done);
    sock.on("error", done);
    sock.write(bytes);
    if (o.hangUpAfterMs !== undefined) setTimeout(done, o.hangUpAfterMs);
  });
}

const statusOf = (reply: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1]);
const codeOf = (reply: string) =>
  JSON.parse(reply.slice(reply.indexOf("\r\n\r\n") + 4)).error.code as string;

// Dot segments and Node's own parser replies are the Node listener's (server/node.ts).
if (!isDeno) {
  test("raw sockets on a real Node listener: coded JSON replies for dot segments, bad HTTP, huge headers, a late body; hang-ups are not errors", async () => {
    const child: ChildProcess = spawnTs(serverEntry, [
      "--memory",
      "--port",
      "0",
      "--request-timeout",
      "1s",
    ]);
    let out = "";
    let err = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (err += d));
    try {
      while (!/listening on http:\/\/[^:]+:(\d+)/.test(out)) {
        if (child.exitCode !== null) throw new Error(`server exited: ${err}`);
        await sleep(20);
      }
      const port = Number(/listening on http:\/\/[^:]+:(\d+)/.exec(out)![1]);
      await fetch(`http://127.0.0.1:${port}/v1/stages/r7b/runs`, json("POST", { total: 1 }));

      const dots = await rawRequest(
        port,
        "GET /v1/stages/nosuch/../r7b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      );
      assert.equal([statusOf(dots), codeOf(dots)], [400, "CKPT_INVALID"], dots);
      const encoded = await rawRequest(
        port,
        "GET /v1/stages/nosuch/%2e%2E/r7b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      );
      assert.is(statusOf(encoded), 400, encoded);
      const plain = await rawRequest(
        port,
        "GET /v1/stages/r7b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      );
      assert.is(statusOf(plain), 200, "a plain path still answers");

      const garbage = await rawRequest(port, "NOT HTTP AT ALL\r\n\r\n");
      assert.equal([statusOf(garbage), codeOf(garbage)], [400, "CKPT_INVALID"], garbage);
      const huge = await rawRequest(
        port,
        `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(40_000)}\r\n\r\n`,
      );
      assert.equal([statusOf(huge), codeOf(huge)], [431, "CKPT_TOO_LARGE"], huge);
      const late = await rawRequest(
        port,
        'POST /v1/stages/r7b/runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"total":',
        { timeoutMs: 8000 },
      );
      assert.equal(
        [statusOf(late), codeOf(late)],
        [408, "CKPT_TIMEOUT"],
        `a body that never comes is answered 408 (got ${JSON.stringify(late.slice(0, 200))})`,
      );

      await rawRequest(
        port,
        'POST /v1/stages/r7b/runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"total":',
        { hangUpAfterMs: 100 },
      );
      await sleep(300);
      assert.is((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
      assert.not.match(err, "unexpected error", `a client hanging up is not an error: ${err}`);
    } finally {
      child.kill("SIGKILL");
    }
  });
}

test.run();
