/**
 * The sidecar's state checkpoints: saved as an update, read back (latest, list), size-limited,
 * trimmed by POST /v1/compact; OpenAPI describes what clients read.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { bearer, type Call, caller, json, type Sidecar, sidecar, TOKENS } from "./helpers.ts";

let s: Sidecar;
const admin = bearer(TOKENS.admin);
const body = async (r: Response) => (await r.json()) as Record<string, any>;

test.before(async () => {
  s = await sidecar({ auth: true });
});
test.after(async () => {
  await s.close();
});

const call = (): Call => caller(s, "app");
const send = (method: string, path: string, b?: unknown) => call()(path, json(method, b, admin));
const get = (path: string) => call()(path, { headers: admin });

test("checkpoints saved through updates are listed newest first and the latest comes back with its state", async () => {
  const begun = await body(await send("POST", "/v1/stages/loop/runs", {}));
  const updates = `/v1/stages/loop/runs/${begun.runId}/updates`;
  assert.is((await get("/v1/stages/loop/checkpoints/latest")).status, 404);
  for (let step = 0; step < 4; step++) {
    const r = await send("POST", updates, {
      updates: [{ type: "item", index: step }, {
        type: "checkpoint",
        step,
        state: { step, w: [step] },
        metadata: { loss: step },
      }],
    });
    assert.is(r.status, 200);
  }
  const latest = await body(await get("/v1/stages/loop/checkpoints/latest"));
  assert.equal([latest.step, latest.state, latest.metadata], [3, { step: 3, w: [3] }, { loss: 3 }]);
  const list = await body(await get("/v1/stages/loop/checkpoints?limit=2"));
  assert.equal(list.checkpoints.map((c: { step: number }) => c.step), [3, 2]);
  assert.not.ok("state" in list.checkpoints[0]);
  const bad = await send("POST", updates, {
    updates: [{ type: "checkpoint", step: -1, state: 1 }],
  });
  assert.is((await body(bad)).error.code, "CKPT_INVALID");
  const big = await send("POST", updates, {
    updates: [{ type: "checkpoint", state: "x".repeat(1024 * 1024) }],
  });
  assert.is(big.status, 413);
  assert.is((await body(big)).error.code, "CKPT_TOO_LARGE");
  assert.is((await get("/v1/stages/nope/checkpoints")).status, 404);
  assert.is((await send("POST", updates, { updates: [{ type: "pause" }] })).status, 200);
  assert.is((await send("DELETE", `/v1/stages/loop/runs/${begun.runId}`)).status, 204);
  const report = await body(
    await send("POST", "/v1/compact", { keepCheckpoints: 2, minEvents: 0 }),
  );
  assert.is(report.stages[0].action, "compacted");
  assert.equal(
    (await body(await get("/v1/stages/loop/checkpoints"))).checkpoints.map((c: { step: number }) =>
      c.step
    ),
    [3, 2],
  );
});

test("/openapi.json describes the resume point, the checkpoint update and the checkpoint responses", async () => {
  const doc = await body(await call()("/openapi.json"));
  const state =
    doc.paths["/v1/stages/{stage}"].get.responses["200"].content["application/json"].schema;
  assert.equal(state.properties.resume.properties.ranges.type, "array");
  assert.ok(state.properties.resume.required.includes("watermark"));
  assert.ok(state.properties.units && state.properties.run && state.properties.errors);
  const begin =
    doc.paths["/v1/stages/{stage}/runs"].post.responses["201"].content["application/json"].schema;
  assert.ok(begin.properties.state.properties.resume);
  const latest = doc.paths["/v1/stages/{stage}/checkpoints/latest"].get.responses["200"]
    .content["application/json"].schema;
  assert.ok(latest.required.includes("state") || "state" in latest.properties);
  const updates = JSON.stringify(
    doc.paths["/v1/stages/{stage}/runs/{runId}/updates"].post.requestBody,
  );
  assert.ok(updates.includes('"checkpoint"'));
  assert.ok(doc.paths["/v1/stages/{stage}/checkpoints"].get);
});

test.run();
