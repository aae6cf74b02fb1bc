/**
 * Every command once through the real `ckpt` binary in a child process (Node via tsx, Deno via deno
 * run), plus cli/bin.mjs.
 */
import { cpSync, existsSync, readFileSync } from "node:fs";
import process from "node:process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { open } from "../../mod.ts";
import { isDeno, populate, runBin, tempDir } from "./helpers.ts";

let dir: { path: string; remove(): Promise<void> };
let store: string;
let copies = 0;
/**
 * Each child gets its own copy of the store (LevelDB allows one process), so they can all run at
 * once.
 */
const ckpt = (...args: string[]) => {
  const copy = `${dir.path}/copy-${copies++}`;
  cpSync(store, copy, { recursive: true });
  return runBin([...args, "--store", copy]);
};
const noStack = (s: string) => assert.not.match(s, /\n\s+at .+:\d+/, "no stack trace");

test.before(async () => {
  dir = await tempDir();
  store = `${dir.path}/store`;
  await populate(store);
});
test.after(() => dir.remove());

test("reading commands: list, show, replay, report, verify, watch", async () => {
  const [list, show, replay, report, verify, watch] = await Promise.all([
    ckpt("list"),
    ckpt("show", "parse", "--json"),
    ckpt("replay", "fetch", "--from", "100"),
    ckpt("report"),
    ckpt("verify"),
    ckpt("watch", "fetch", "--until-done"),
  ]);
  assert.is(list.code, 0, list.stderr);
  assert.match(list.stdout, /fetch\s+completed\s+100\/100/);
  assert.is(JSON.parse(show.stdout).state.units["org/repo:pulls"].page, 2);
  assert.is(replay.stdout.trimEnd().split("\n").length, 4);
  assert.match(report.stdout, "stages:       3 (1 completed, 1 failed, 1 running)");
  assert.is(verify.code, 0);
  assert.match(verify.stdout, "Verified 3 stages: 3 ok.");
  assert.is(watch.code, 0);
  assert.match(watch.stdout, /fetch  completed  100\/100 \(100\.0%\)/);
});

test("export, import, compact, cleanup", async () => {
  const file = `${dir.path}/backup.json`;
  assert.is((await ckpt("export", "-o", file)).code, 0);
  assert.is(JSON.parse(readFileSync(file, "utf8")).stages.length, 3);
  const [imported, compact, cleanup] = await Promise.all([
    runBin(["import", file, "--store", `${dir.path}/imported`]),
    ckpt("compact", "--max-age", "1h", "--dry-run"),
    ckpt("cleanup", "--days", "30", "--json"),
  ]);
  assert.is(imported.code, 0, imported.stderr);
  assert.match(imported.stdout, "Imported 3 stages (191 events)");
  assert.is(compact.code, 0, compact.stderr);
  assert.match(compact.stdout, "Dry run:");
  assert.is(cleanup.code, 0, cleanup.stderr);
  assert.is(JSON.parse(cleanup.stdout).stagesDeleted, 0);
});

test("reset: refused without --force off a terminal (exit 2), done with it", async () => {
  const [refused, done] = await Promise.all([
    ckpt("reset", "load"),
    ckpt("reset", "load", "--force"),
  ]);
  assert.is(refused.code, 2);
  assert.match(refused.stderr, "error: refusing to reset without --force");
  noStack(refused.stderr);
  assert.is(done.code, 0, done.stderr);
  assert.match(done.stdout, "Reset load (was failed");
});

test("bad arguments: exit 2 and one message; CKPT errors: exit 1, `error CODE: message`, no stack", async () => {
  const [typo, flag, missing] = await Promise.all([
    runBin(["lst"]),
    runBin(["replay", "fetch", "--form", "3"]),
    runBin(["list", "--store", `${dir.path}/nothing-here`]),
  ]);
  assert.is(typo.code, 2);
  assert.match(typo.stderr, 'error: unknown command "lst"; did you mean "list"?');
  noStack(typo.stderr);
  assert.is(flag.code, 2);
  assert.match(flag.stderr, "did you mean --from?");
  assert.is(missing.code, 1);
  assert.match(missing.stderr, /^error CKPT_NOT_FOUND: No ckpt store at /);
  noStack(missing.stderr);
  assert.not.ok(existsSync(`${dir.path}/nothing-here`), "a reading command never creates a store");
});

test("a store held by a pipeline: reading works on a private view; writing is CKPT_LOCKED pointing at ckpt-server", async () => {
  const held = await open({ path: store });
  try {
    const read = await runBin(["list", "--store", store]);
    assert.is(read.code, 0, read.stderr);
    assert.match(read.stdout, "fetch");
    const r = await runBin(["reset", "fetch", "--force", "--store", store]);
    assert.is(r.code, 1);
    assert.match(r.stderr, /^error CKPT_LOCKED: The store at .+ is open in another process/);
    assert.match(r.stderr, "ckpt-server");
    assert.match(r.stderr, "hint: a pipeline holds this store");
    noStack(r.stderr);
  } finally {
    await held.close();
  }
});

test("cli/bin.mjs runs the CLI on Node (the npx ckpt entry)", async () => {
  if (isDeno) {
    // bin.mjs is Node's entry (it registers tsx); Deno runs cli/main.ts directly (`deno task
    // ckpt`).
    const r = await runBin(["--version"]);
    assert.match(r.stdout, /^ckpt \d+\.\d+\.\d+/);
    return;
  }
  const [r, v] = await Promise.all([
    runBin(["list", "--json", "--store", store], { cmd: [process.execPath, ["cli/bin.mjs"]] }),
    runBin(["--version"], { cmd: [process.execPath, ["cli/bin.mjs"]] }),
  ]);
  assert.is(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).map((s: { stage: string }) => s.stage), [
    "fetch",
    "load",
    "parse",
  ]);
  assert.is(v.stdout, `ckpt ${JSON.parse(readFileSync("package.json", "utf8")).version}\n`);
});

test.run();
