/**
 * The `--url` target against a real sidecar started with `ckpt serve` (the real binary): reading
 * commands, a live `watch` while a worker writes through the HTTP adapter, import and compaction
 * through it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runCli } from "../../cli/run.ts";
import { Store } from "../../core/store.ts";
import { runtimePlatform } from "../../runtime/platform.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { eventually } from "../server/helpers.ts";
import { binCommand, cli, fakeIo, populate, ROOT, tempDir } from "./helpers.ts";

let dir: { path: string; remove(): Promise<void> };
let server: ChildProcess | undefined;
let url = "";
let skipped: string | undefined;

async function worker(): Promise<Store> {
  const { connectHttpLog } = await import("../../adapters/http.ts");
  return new Store(await connectHttpLog({ url }), { platform: runtimePlatform });
}

test.before(async () => {
  dir = await tempDir();
  try {
    await import("../../adapters/http.ts");
    await import("../../server/main.ts");
  } catch (e) {
    skipped = `the sidecar or its client is not in this build (${(e as Error).message})`;
    return;
  }
  const [cmd, args] = binCommand();
  server = spawn(cmd, [...args, "serve", "--store", `${dir.path}/served`, "--port", "0"], {
    cwd: ROOT,
    env: { ...process.env, CKPT_TOKENS: "" },
  });
  let out = "";
  url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ckpt serve did not start: ${out}`)), 20_000);
    const seen = (d: Buffer) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) (clearTimeout(timer), resolve(m[1]!));
    };
    server!.stdout!.on("data", seen);
    server!.stderr!.on("data", seen);
    server!.once("exit", (code) => reject(new Error(`ckpt serve exited ${code}: ${out}`)));
  });
});

test.after(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server!.once("exit", r));
    server.kill("SIGTERM");
    await exited;
  }
  await dir.remove();
});

test("ckpt serve starts the sidecar; list, show, report, verify work through --url", async () => {
  if (skipped) return console.log(`skipped: ${skipped}`);
  const store = await worker();
  const run = await store.stage("remote").begin({ total: 20 });
  for (let i = 0; i < 12; i++) await run.done(i, { item: `u${i}` });
  await run.pause("lunch");
  await run.close();
  await store.close();
  const list = await cli(["list", "--url", url]);
  assert.is(list.code, 0, list.err);
  assert.match(list.out, /remote\s+paused\s+12\/20 \(60\.0%\)/);
  const show = JSON.parse((await cli(["show", "remote", "--json", "--url", url])).out);
  assert.is(show.state.resume.lastItem, "u11");
  assert.match((await cli(["report", "--url", url])).out, "items:        12/20 (60.0%)");
  const verify = await cli(["verify", "--url", url]);
  assert.is(verify.code, 0, verify.out + verify.err);
  const replay = await cli(["replay", "remote", "--to", "2", "--json", "--url", url]);
  assert.is(replay.out.trimEnd().split("\n").length, 3);
});

test("watch --url follows a worker writing through the sidecar", async () => {
  if (skipped) return;
  // watch polls when the test moves its clock: once after each step of 10 items the worker writes.
  const clock = manualClock();
  const c = fakeIo({ clock, now: () => Date.now() });
  const lineCount = () => c.out().split("\n").length;
  const store = await worker();
  let code: number;
  try {
    const run = await store.stage("live").begin({ total: 30 }); // before watch starts: it needs the stage to exist
    const watching = runCli(
      ["watch", "live", "--interval", "50ms", "--until-done", "--url", url],
      c.io,
    );
    for (let step = 1; step <= 3; step++) {
      assert.ok(
        await eventually(() => clock.pending() > 0),
        `watch waits for its next poll (${c.err()})`,
      );
      for (let i = (step - 1) * 10; i < step * 10; i++) await run.done(i);
      if (step === 3) await run.complete();
      const shown = lineCount();
      clock.advance(50);
      if (step < 3) assert.ok(await eventually(() => lineCount() > shown), "a line per poll");
    }
    code = await watching;
  } finally {
    await store.close();
  }
  assert.is(code, 0, c.err());
  const lines = c.out().trimEnd().split("\n");
  assert.equal(lines.map((l) => /live  (\w+)  (\d+)\/30/.exec(l)?.slice(1).join(" ")), [
    "running 0",
    "running 10",
    "running 20",
    "completed 30",
  ], c.out());
  assert.match(lines.at(-1)!, /live  completed  30\/30 \(100\.0%\)/);
});

test("export from LevelDB and import into the sidecar; compact through it", async () => {
  if (skipped) return;
  const local = `${dir.path}/local`;
  await populate(local);
  const exported = await cli(["export", "--store", local]);
  assert.is(exported.code, 0, exported.err);
  const imported = await cli(["import", "-", "--url", url], { stdin: exported.out });
  assert.is(imported.code, 0, imported.err);
  assert.match(imported.out, "Imported 3 stages (191 events)");
  for (const stage of ["fetch", "parse", "load"]) {
    const a = JSON.parse((await cli(["show", stage, "--json", "--store", local])).out).state;
    const b = JSON.parse((await cli(["show", stage, "--json", "--url", url])).out).state;
    assert.equal(b, a, stage);
  }
  assert.is((await cli(["verify", "--url", url])).code, 0);
  const compact = await cli(["compact", "--keep", "20", "--min-keep", "5", "--url", url, "--json"]);
  assert.is(compact.code, 0, compact.err);
  const stages = JSON.parse(compact.out).stages as {
    stage: string;
    action: string;
    eventsRemoved: number;
  }[];
  assert.equal(stages.find((x) => x.stage === "fetch"), {
    ...stages.find((x) => x.stage === "fetch")!,
    action: "compacted",
    eventsRemoved: 84,
  });
  assert.is(stages.find((x) => x.stage === "parse")!.action, "skipped");
  assert.match((await cli(["replay", "fetch", "--url", url])).out, /^\s+84 /);
  assert.is((await cli(["verify", "--url", url])).code, 0);
});

test("a compacted stage that the sidecar refuses leaves nothing behind, with a clear error", async () => {
  if (skipped) return;
  const local = `${dir.path}/local-compacted`;
  await populate(local);
  assert.is((await cli(["compact", "--keep", "10", "--min-keep", "5", "--store", local])).code, 0);
  const exported = await cli(["export", "fetch", "--store", local]);
  const r = await cli(["import", "-", "--replace", "--url", url], { stdin: exported.out });
  if (r.code === 0) {
    // A sidecar that reloads its projection after truncation imports it exactly.
    assert.match((await cli(["replay", "fetch", "--url", url])).out, /^\s+94 /);
    return;
  }
  assert.is(r.code, 1);
  assert.match(
    r.err,
    /^error CKPT_BAD_TRANSITION: .* refused the events of compacted stage "fetch" .* the partial stage was removed/,
  );
  assert.match((await cli(["show", "fetch", "--url", url])).err, "CKPT_NOT_FOUND");
});

test.run();
