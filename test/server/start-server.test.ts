/**
 * `ckpt/server`'s startServer(): a real sidecar on a loopback port of this process, used through
 * the HTTP client.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { connectHttpLog } from "../../adapters/http.ts";
import { memoryLog } from "../../adapters/memory.ts";
import { Store } from "../../core/store.ts";
import { createApp, parseTokens, serverStore, startServer } from "../../server/index.ts";

test("startServer listens on a free loopback port; a worker records through it; close() stops it", async () => {
  const server = await startServer(memoryLog());
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.ok(server.port > 0);
  const store = new Store(await connectHttpLog({ url: server.url }));
  const run = await store.stage("remote").begin({ total: 2 });
  await run.done(0);
  await run.done(1);
  await run.complete();
  assert.is((await store.stage("remote").state()).status, "completed");
  await store.close();
  await server.close(1000);
  const after = await fetch(`${server.url}/healthz`).then(() => "answered", () => "refused");
  assert.is(after, "refused");
});

test("startServer refuses a non-loopback host without tokens (CKPT_INVALID) and listens with them", async () => {
  try {
    await startServer(memoryLog(), { host: "0.0.0.0" });
    assert.unreachable("listened without tokens");
  } catch (err) {
    assert.is((err as { code?: string }).code, "CKPT_INVALID");
  }
  const server = await startServer(memoryLog(), {
    host: "0.0.0.0",
    tokens: parseTokens("admin:s3cret-admin-token", "test"),
  });
  const res = await fetch(`http://127.0.0.1:${server.port}/v1/stages`);
  assert.is(res.status, 401);
  await server.close(1000);
});

test("createApp(serverStore(log)) is a fetch handler to mount elsewhere, and drain() stops it", async () => {
  const sidecar = createApp(serverStore(memoryLog()));
  assert.equal(Object.keys(sidecar).sort(), ["drain", "fetch"]);
  const res = await sidecar.fetch(new Request("http://ckpt.local/healthz"));
  assert.is(res.status, 200);
  await sidecar.drain(0);
  assert.is((await sidecar.fetch(new Request("http://ckpt.local/v1/stages"))).status, 503);
});

test.run();
