/**
 * Live commands: `watch` (plain lines off a TTY, bars redrawn in place on one, NDJSON) and `replay
 * --follow`, with a pipeline writing meanwhile.
 */
import { spawnSync } from "node:child_process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runCli } from "../../cli/run.ts";
import type { Store } from "../../core/store.ts";
import { open } from "../../mod.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { binCommand, fakeIo, populate, runBin, tempDir } from "./helpers.ts";

let dir: { path: string; remove(): Promise<void> };
let n = 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await sleep(5);
  }
}

/** A pipeline writing `total` items, then completing (or failing). */
async function pipeline(
  store: Store,
  stage: string,
  total: number,
  end: "complete" | "fail" = "complete",
): Promise<void> {
  const run = await store.stage(stage).begin({ total });
  for (let i = 0; i < total; i++) await run.done(i);
  if (end === "complete") await run.complete();
  else await run.fail("boom");
}

test.before(async () => {
  dir = await tempDir();
});
test.after(() => dir.remove());

test("watch off a TTY: one plain line per change, until every stage is done", async () => {
  // Watch and pipeline run on driven clocks moved together (two, so that pending() counts watch's
  // own wait only): each poll happens when the test moves them, between two steps of 5 items.
  const clock = manualClock();
  const storeClock = manualClock();
  const store = await open({ path: `${dir.path}/w${n++}`, clock: storeClock });
  try {
    const c = fakeIo({ store, clock });
    const watching = runCli(["watch", "--interval", "10ms", "--until-done"], c.io);
    await until(() => clock.pending() > 0); // the first poll found nothing and watch waits for the next
    const run = await store.stage("crawl").begin({ total: 20 });
    for (let step = 1; step <= 4; step++) {
      await until(() => clock.pending() > 0); // watch is between two polls
      for (let i = (step - 1) * 5; i < step * 5; i++) await run.done(i);
      if (step === 4) await run.complete();
      const shown = c.out().split("\n").length;
      storeClock.advance(10);
      clock.advance(10);
      if (step < 4) await until(() => c.out().split("\n").length > shown);
    }
    assert.is(await watching, 0);
    const lines = c.out().trimEnd().split("\n");
    assert.match(lines[0]!, /no stages yet in /);
    assert.is(lines.length, 5, c.out());
    assert.match(lines.at(-1)!, /^\S+Z  crawl  completed  20\/20 \(100\.0%\)  \S+\/s  ETA done$/);
    const running = lines.filter((l) => / crawl  running  \d+\/20/.test(l));
    const done = running.map((l) => Number(/running  (\d+)\//.exec(l)![1]));
    assert.equal(done, [5, 10, 15], "one line per poll while running, progress only goes up");
    assert.not.match(c.out(), "\x1b[");
  } finally {
    await store.close();
  }
});

test("watch --until-done exits 1 when a stage failed; --json prints NDJSON", async () => {
  const store = await open({ path: `${dir.path}/w${n++}` });
  try {
    await pipeline(store, "a", 3);
    await pipeline(store, "b", 3, "fail");
    const c = fakeIo({ store });
    assert.is(await runCli(["watch", "--until-done", "--json"], c.io), 1);
    const rows = c.out().trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.equal(rows.map((r) => [r.stage, r.status, r.done, r.total]), [
      ["a", "completed", 3, 3],
      ["b", "failed", 3, 3],
    ]);
  } finally {
    await store.close();
  }
});

test("watch on a TTY: bars redrawn in place, cursor hidden then restored; Ctrl+C ends it with exit 0", async () => {
  const store = await open({ path: `${dir.path}/w${n++}` });
  try {
    await pipeline(store, "fetch", 10);
    const run = await store.stage("parse").begin({ total: 40 });
    for (let i = 0; i < 10; i++) await run.done(i);
    const c = fakeIo({ store, tty: true, columns: 100 });
    const watching = runCli(["watch", "--interval", "10ms"], c.io);
    await until(() => c.out().split("\x1b[3A").length >= 2);
    for (let i = 10; i < 20; i++) await run.done(i);
    await until(() => c.out().includes("20/40 (50.0%)"));
    c.abort();
    assert.is(await watching, 0);
    await run.close();
    const out = c.out();
    assert.ok(out.startsWith("\x1b[?25l"), "cursor hidden");
    assert.ok(out.endsWith("\x1b[?25h"), "cursor restored");
    assert.match(
      out,
      "\x1b[3A\r\x1b[J",
      "moves up over the previous frame (header + 2 stages) and clears it",
    );
    assert.match(out, /fetch\s+\S*completed\S*\s+\S*█+\S*\s+10\/10 \(100\.0%\)/);
    assert.match(
      out,
      /parse\s+\S*running\S*\s+\S*█+\S*░+\S*\s+20\/40 \(50\.0%\)\s+\S+\/s\s+ETA \d/,
    );
    const frames = out.split("\x1b[3A");
    for (const f of frames) {
      for (const line of f.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").split("\n")) {
        assert.ok(line.length < 100, `fits the terminal: ${line}`);
      }
    }
  } finally {
    await store.close();
  }
});

test("replay --follow prints the history, then live events until Ctrl+C, none twice", async () => {
  const store = await open({ path: `${dir.path}/w${n++}` });
  try {
    const run = await store.stage("s").begin({ total: 10 });
    for (let i = 0; i < 3; i++) await run.done(i);
    const c = fakeIo({ store });
    const following = runCli(["replay", "s", "--follow", "--json"], c.io);
    await until(() => c.out().split("\n").length > 4);
    for (let i = 3; i < 10; i++) await run.done(i);
    await run.complete();
    await until(() => c.out().includes('"completed"'));
    c.abort();
    assert.is(await following, 0);
    const rows = c.out().trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.equal(rows.map((r) => r.revision), [...Array(12).keys()]);
    assert.equal(rows.at(-1).event.type, "completed");
    assert.is(rows.at(-1).done, 10);
  } finally {
    await store.close();
  }
});

test("watch under a real pseudo-terminal (script -qc) draws bars and restores the cursor", async () => {
  if (spawnSync("script", ["--version"]).status !== 0) {
    console.log("skipped: no `script` on this machine");
    return;
  }
  const path = `${dir.path}/pty${n++}`;
  await populate(path);
  const [cmd, args] = binCommand();
  const line = [cmd, ...args, "watch", "fetch", "load", "--until-done", "--store", path].map((a) =>
    `'${a}'`
  ).join(" ");
  const r = await runBin(["-qec", line, "/dev/null"], {
    cmd: ["script", []],
    env: { TERM: "xterm", COLUMNS: "100" },
  });
  assert.is(r.code, 1, r.stdout + r.stderr); // load failed
  assert.match(r.stdout, "\x1b[?25l");
  assert.match(r.stdout, "\x1b[?25h");
  assert.match(r.stdout, /fetch\s+\S*completed\S*\s+\S*█/);
  assert.match(r.stdout, "\x1b[32m", "colour on a terminal");
});

test.run();
