/**
 * `ckpt item` (lineage in the terminal) and `ckpt dashboard` (as a pure command, and once as the
 * real binary serving the page).
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runCli } from "../../cli/run.ts";
import { binCommand, cli, fakeIo, populate, ROOT, tempDir } from "./helpers.ts";

let dir: { path: string; remove(): Promise<void> };
let store: string;

test.before(async () => {
  dir = await tempDir();
  store = join(dir.path, "store");
  await populate(store);
});
test.after(() => dir.remove());

test("ckpt item: the failed item's attempt, outcome, error, run and worker", async () => {
  const r = await cli(["item", "fetch", "7", "--store", store]);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, "fetch item 7  done: failed");
  assert.match(r.out, /item\s+recorded\s+failed\s+HTTP 500/);
  assert.match(r.out, new RegExp(`pid ${process.pid}`), "the worker that wrote it");
});

test("ckpt item --json: the same lineage the API serves", async () => {
  const r = await cli(["item", "fetch", "70", "--json", "--store", store]);
  assert.is(r.code, 0, r.err);
  const l = JSON.parse(r.out);
  assert.equal([l.stage, l.index, l.done, l.outcome, l.attempts, l.cost], [
    "fetch",
    70,
    true,
    "ok",
    1,
    0.01,
  ]);
  assert.is(l.entries[0].effect, "recorded");
  assert.is(l.entries[0].item, "https://example.com/p/70");
});

test("ckpt item: an item nothing touched is open and says so", async () => {
  const r = await cli(["item", "parse", "150", "--store", store]);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, "open (not done");
  assert.match(r.out, "never attempted");
});

test("ckpt item: a bad index is a usage error, a missing stage CKPT_NOT_FOUND", async () => {
  const bad = await cli(["item", "fetch", "-3", "--store", store]);
  assert.is(bad.code, 2);
  const none = await cli(["item", "fetch", "abc", "--store", store]);
  assert.is(none.code, 2);
  assert.match(none.err, "<index> expects a whole number");
  const missing = await cli(["item", "fetcj", "1", "--store", store]);
  assert.is(missing.code, 1);
  assert.match(missing.err, "CKPT_NOT_FOUND");
  assert.match(missing.err, 'Did you mean "fetch"?');
});

test("ckpt dashboard: starts the sidecar on loopback, prints the URL, --open opens it", async () => {
  const c = fakeIo();
  let argv: readonly string[] = [];
  const opened: string[] = [];
  c.io.serve = async (a, o) => {
    argv = a;
    o?.onListening?.("http://127.0.0.1:5555");
    return 0;
  };
  c.io.openUrl = async (u) => (opened.push(u), true);
  assert.is(await runCli(["dashboard", "--store", store, "--open"], c.io), 0, c.err());
  assert.equal(argv, ["--store", store, "--host", "127.0.0.1"]);
  assert.match(c.out(), "dashboard: http://127.0.0.1:5555/");
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(opened, ["http://127.0.0.1:5555/"]);

  const quiet = fakeIo();
  const seen: string[] = [];
  quiet.io.serve = async (a) => (argv = a, 0);
  quiet.io.openUrl = async (u) => (seen.push(u), true);
  assert.is(await runCli(["dashboard", "--port", "0"], quiet.io), 0);
  assert.equal(argv, ["--host", "127.0.0.1", "--port", "0"]);
  assert.equal(seen, [], "no --open, no browser");
  assert.is((await cli(["dashboard", "--port", "http"])).code, 2);
});

test("the real `ckpt dashboard` serves the page and the API until SIGTERM", async () => {
  const [cmd, pre] = binCommand();
  const child = spawn(cmd, [...pre, "dashboard", "--store", store, "--port", "0"], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stderr.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (d) => {
      out += d;
      const m = /dashboard: (http:\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`ckpt dashboard exited (${code}):\n${out}`)));
  });
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const page = await fetch(url);
  assert.is(page.status, 200);
  assert.match(await page.text(), "<title>ckpt dashboard</title>");
  const stages = (await (await fetch(url + "v1/stages")).json()) as { stages: { stage: string }[] };
  assert.equal(stages.stages.map((s) => s.stage), ["fetch", "load", "parse"]);
  // process.kill rather than child.kill: Deno's child_process reports a child it signalled itself
  // as killed (code null) even after a clean exit 0.
  process.kill(child.pid!, "SIGTERM");
  assert.is(await exited, 0, out);
});

test.run();
