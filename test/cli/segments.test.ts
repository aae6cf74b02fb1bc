/**
 * A segment log end to end: a pipeline process writes to `segments:<dir>`, then the real `ckpt`
 * reads it by its plain folder (list, show, verify, export, compact); and the same while the
 * pipeline still holds the log open (a read-only open beside the writer).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { binCommand, ROOT, runBin, tempDir } from "./helpers.ts";

const WRITER = "test/cli/fixtures/segments-writer.ts";

/** Starts the writer; resolves with the child once it printed `until`. */
function writer(args: string[], until: string) {
  const [cmd, pre] = binCommand(WRITER);
  const child = spawn(cmd, [...pre, ...args], { cwd: ROOT, env: { ...process.env } });
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (d) => {
      out += d;
      if (out.includes(until)) resolve();
    });
    child.on("close", (code) => reject(new Error(`writer exited ${code}: ${err}`)));
  });
  return { child, ready, stderr: () => err };
}

/** The reading commands every store answers, run by the real binary against `store`. */
async function readAll(store: string, processed: number, status: string, compacted = false) {
  const list = await runBin(["list", "--json", "--store", store]);
  assert.is(list.code, 0, list.stderr);
  assert.match(list.stdout, '"fetch"');
  const show = await runBin(["show", "fetch", "--json", "--store", store]);
  assert.is(show.code, 0, show.stderr);
  assert.match(show.stdout, `"processed": ${processed}`);
  assert.match(show.stdout, `"status": "${status}"`);
  const verify = await runBin(["verify", "--store", store]);
  assert.is(verify.code, 0, verify.stdout + verify.stderr);
  assert.match(verify.stdout, /ok\s+fetch/);
  const exported = await runBin(["export", "fetch", "--store", store]);
  assert.is(exported.code, 0, exported.stderr);
  if (!compacted) assert.match(exported.stdout, "https://example.com/p/0");
}

test("a pipeline writes segments:<dir>; ckpt lists, shows, verifies, exports and compacts it by its folder", async () => {
  const dir = await tempDir();
  const path = join(dir.path, "data");
  try {
    const w = writer([`segments:${path}`, "40"], "done");
    await w.ready.catch((e) => assert.unreachable(String(e)));
    assert.ok(existsSync(join(path, "SEGMENTS")), "a segment log, not LevelDB");
    assert.not.ok(existsSync(join(path, "CURRENT")));
    await readAll(path, 40, "completed");
    await readAll(`segments:${path}`, 40, "completed");
    const compact = await runBin([
      "compact",
      "--keep",
      "5",
      "--min-keep",
      "5",
      "--store",
      path,
    ]);
    assert.is(compact.code, 0, compact.stderr);
    // One segment holds it all, so nothing is freed yet, and the report says why.
    assert.match(compact.stdout, /removed \d+ events, reclaimed 0 B \(16\.0 MiB → 16\.0 MiB\)/);
    assert.match(compact.stdout, "the log frees the space later");
    await readAll(path, 40, "completed", true);
    assert.not.ok(existsSync(join(path, "CURRENT")), "nothing opened it as LevelDB");
  } finally {
    await dir.remove();
  }
});

test("while the pipeline holds the segment log: the reading commands work beside it", async () => {
  const dir = await tempDir();
  const path = join(dir.path, "data");
  const w = writer([`segments:${path}`, "25", "hold"], "ready");
  try {
    await w.ready.catch((e) => assert.unreachable(String(e)));
    await readAll(path, 25, "running");
    // A second writer is refused while the first holds the folder.
    const second = await runBin(["reset", "fetch", "--force", "--store", path]);
    assert.is.not(second.code, 0, "a second writer got in");
  } finally {
    w.child.kill("SIGKILL");
    await new Promise((r) => w.child.once("close", r));
    await dir.remove();
  }
});

test("ckpt verify --repair on a segment log runs the segment log's repair (adapters/segments/repair.ts)", async () => {
  const dir = await tempDir();
  const path = join(dir.path, "data");
  try {
    const w = writer([`segments:${path}`, "10"], "done");
    await w.ready.catch((e) => assert.unreachable(String(e)));
    const r = await runBin(["verify", "--repair", "--json", "--store", path]);
    assert.is(r.code, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout) as { repair?: { stages: { stage: string; lost: unknown }[] } };
    assert.ok(out.repair, "a repair report");
    assert.equal(out.repair!.stages.map((s) => [s.stage, s.lost]), [["fetch", null]]);
    await readAll(path, 10, "completed");
  } finally {
    await dir.remove();
  }
});

test.run();
