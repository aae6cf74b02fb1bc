/** Locks the public surface: an export added or removed shows up in this diff. */
import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Stage } from "../core/stage.ts";
import { Store } from "../core/store.ts";
import * as ckpt from "../mod.ts";
import { VERSION } from "../server/app.ts";

const manifest = (file: string) => JSON.parse(readFileSync(new URL(`../${file}`, import.meta.url), "utf8"));

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
    "shutdown",
  ]);
});

test("every error code is CKPT_ prefixed and unique", () => {
  const codes = Object.values(ckpt.ErrorCode);
  assert.ok(codes.every((c) => c.startsWith("CKPT_")));
  assert.is(new Set(codes).size, codes.length);
});

test("Store and Stage prototype methods (TS-private ones included)", () => {
  const methods = (c: { prototype: object }) => Object.getOwnPropertyNames(c.prototype).filter((n) => n !== "constructor" && !n.startsWith("_")).sort();
  assert.equal(methods(Store), ["activeRuns", "checkOpen", "close", "closed", "compact", "flush", "stage", "stages", "writer"].sort());
  assert.equal(methods(Stage), ["begin", "delete", "exists", "fingerprint", "history", "joinRun", "reopenInvalid", "replay", "reset", "start", "state", "watch"].sort());
});

test("package.json (npm) and deno.json (JSR) export the same entry points from the same sources, at one version", () => {
  const pkg = manifest("package.json") as { version: string; exports: Record<string, string | { types: string; import: string; default: string }>; bin: Record<string, string> };
  const deno = manifest("deno.json") as { version: string; exports: Record<string, string> };
  const npmEntries = Object.entries(pkg.exports).flatMap(([k, v]) => (typeof v === "string" ? [] : [[k, v] as const]));
  // A new subpath (e.g. ./postgres) is one line in each manifest; this test names the one forgotten.
  assert.equal(npmEntries.map(([k]) => k).sort(), Object.keys(deno.exports).filter((k) => k !== "./cli").sort());
  for (const [key, v] of npmEntries) {
    const source = v.types.replace(/^\.\/dist\//, "./").replace(/\.d\.ts$/, ".ts");
    assert.is(deno.exports[key], source, key);
    assert.is(v.import, v.types.replace(/\.d\.ts$/, ".js"), key);
    assert.is(v.default, v.import, `${key}: default (what require(esm) picks) is the same ESM file`);
  }
  assert.is(deno.exports["./cli"], "./cli/main.ts");
  assert.is(pkg.bin.ckpt, "./dist/cli/main.js");
  assert.is(deno.version, pkg.version);
  assert.is(VERSION, pkg.version, "server/app.ts VERSION");
});

test.run();
