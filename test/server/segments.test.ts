/**
 * The sidecar on a segment log: the real ckpt-server process started with `--store segments:<dir>`
 * names it in its banner and serves a run over loopback HTTP (adapters/http.ts); restarted on the
 * plain folder, it finds the segment log again with everything acknowledged.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { connectHttpLog } from "../../adapters/http.ts";
import { Store } from "../../core/store.ts";
import { runtimePlatform } from "../../runtime/platform.ts";
import { tempDir } from "../helpers/tmp.ts";
import { freePort, serverEntry, spawnTs, TOKEN_SPEC, TOKENS } from "./helpers.ts";

/** Starts ckpt-server on `store`; resolves with the child and its output once it listens. */
async function startServer(store: string, port: number) {
  const child = spawnTs(serverEntry, ["--store", store, "--port", String(port)], {
    CKPT_TOKENS: TOKEN_SPEC,
  });
  let out = "";
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      out += d;
      if (out.includes("API: ")) resolve(); // the banner's last line
    });
    child.on("close", (code) => reject(new Error(`ckpt-server exited ${code}: ${err}`)));
  });
  const stop = async () => {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("close", r));
  };
  return { child, banner: out, stop };
}

test("ckpt-server --store segments:<dir> serves a run over HTTP and names the segment log", async () => {
  const dir = await tempDir("ckpt-sidecar-segments-");
  const path = join(dir.path, "data");
  const port = await freePort();
  let server = await startServer(`segments:${path}`, port);
  try {
    assert.match(server.banner, `segment log at ${path}`);
    const url = `http://127.0.0.1:${port}`;
    let store = new Store(await connectHttpLog({ url, token: TOKENS.write }), {
      platform: runtimePlatform,
    });
    const run = await store.stage("fetch").begin({ total: 30 });
    for (let i = 0; i < 30; i++) await run.done(i);
    await run.complete();
    await store.close();
    assert.ok(existsSync(join(path, "SEGMENTS")), "a segment log on disk");
    assert.not.ok(existsSync(join(path, "CURRENT")), "not LevelDB");
    await server.stop();

    // Restarted on the plain folder: still the segment log, with the run.
    server = await startServer(path, port);
    assert.match(server.banner, `segment log at ${path}`);
    store = new Store(await connectHttpLog({ url, token: TOKENS.read }), {
      platform: runtimePlatform,
    });
    const state = await store.stage("fetch").state();
    assert.is(state.status, "completed");
    assert.is(state.counters.processed, 30);
    await store.close();
  } finally {
    await server.stop();
    await dir.remove();
  }
});

test("ckpt-server refuses --durability os with a segment log", async () => {
  const dir = await tempDir("ckpt-sidecar-segments-");
  const child = spawnTs(serverEntry, [
    "--store",
    `segments:${dir.path}/data`,
    "--durability",
    "os",
    "--port",
    String(await freePort()),
  ]);
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  const code = await new Promise((r) => child.once("close", r));
  try {
    assert.is.not(code, 0);
    assert.match(err, /durability "os" applies to LevelDB/);
  } finally {
    await dir.remove();
  }
});

test.run();
