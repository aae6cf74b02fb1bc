/** Locks the public surface: an export added or removed shows up in this diff. */
import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Stage } from "../core/stage.ts";
import { Store } from "../core/store.ts";
import * as ckpt from "../mod.ts";
import { VERSION } from "../server/app.ts";

const manifest = (file: string) =>
  JSON.parse(readFileSync(new URL(`../${file}`, import.meta.url), "utf8"));

test("mod.ts exports exactly this", () => {
  assert.equal(Object.keys(ckpt).sort(), [
    "CkptError",
    "ErrorCode",
    "Status",
    "evolve",
    "handleSignals",
    "initialState",
    "isCkptError",
    "isDone",
    "levelLog",
    "memoryLog",
    "open",
    "parseDuration",
    "progressOf",
    "segmentLog",
    "shutdown",
  ]);
});

test("every error code is CKPT_ prefixed and unique", () => {
  const codes = Object.values(ckpt.ErrorCode);
  assert.ok(codes.every((c) => c.startsWith("CKPT_")));
  assert.is(new Set(codes).size, codes.length);
});

test("Store and Stage: the documented methods work (behaviour, not private names)", async () => {
  const store = await ckpt.open({ memory: true });
  const stage = store.stage("surface");
  assert.ok(stage instanceof Stage);
  assert.ok(store instanceof Store);
  assert.is(await stage.exists(), false);
  const run = await stage.begin({ total: 2 });
  await run.done(0);
  await store.flush();
  assert.is((await stage.state()).counters.processed, 1);
  assert.is(store.activeRuns().length, 1);
  await run.complete();
  assert.equal((await store.stages()).map((s) => s.stage), ["surface"]);
  assert.is((await stage.history()).runs.length, 1);
  const replayed: number[] = [];
  for await (const e of stage.replay()) replayed.push(e.revision);
  assert.equal(replayed, [0, 1, 2]);
  assert.is((await store.compact({ maxEvents: 1, minEvents: 0, dryRun: true })).dryRun, true);
  await stage.reset();
  await stage.delete();
  assert.is(await stage.exists(), false);
  assert.ok(typeof stage.watch === "function");
  assert.equal(await stage.checkpoints(), []);
  assert.is(await stage.latest(), undefined);
  await store.close();
  assert.is(store.closed, true);
});

test("package.json (npm) and deno.json (JSR) export the same entry points from the same sources, at one version", () => {
  const pkg = manifest("package.json") as {
    version: string;
    exports: Record<string, string | { types: string; import: string; default: string }>;
    bin: Record<string, string>;
  };
  const deno = manifest("deno.json") as { version: string; exports: Record<string, string> };
  const npmEntries = Object.entries(pkg.exports).flatMap((
    [k, v],
  ) => (typeof v === "string" ? [] : [[k, v] as const]));
  // A new subpath (e.g. ./postgres) is one line in each manifest; this test names the one
  // forgotten.
  assert.equal(
    npmEntries.map(([k]) => k).sort(),
    Object.keys(deno.exports).filter((k) => k !== "./cli").sort(),
  );
  for (const [key, v] of npmEntries) {
    const source = v.types.replace(/^\.\/dist\//, "./").replace(/\.d\.ts$/, ".ts");
    assert.is(deno.exports[key], source, key);
    assert.is(v.import, v.types.replace(/\.d\.ts$/, ".js"), key);
    assert.is(
      v.default,
      v.import,
      `${key}: default (what require(esm) picks) is the same ESM file`,
    );
  }
  assert.is(deno.exports["./cli"], "./cli/main.ts");
  assert.is(pkg.bin.ckpt, "./dist/cli/main.js");
  assert.is(deno.version, pkg.version);
  assert.is(VERSION, pkg.version, "server/app.ts VERSION");
});

test.run();
