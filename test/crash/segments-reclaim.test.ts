/**
 * SIGKILL during space reclaims of the segment log: a child (segments-reclaim-child.ts) appends,
 * deletes and truncates on small segments so generation rewrites run all the time, and is killed
 * at random moments. After every kill the log must open with every acknowledged append, delete
 * and truncate in place, and nothing that was never written (every event is what its revision
 * says). CKPT_CRASH_TRIALS sets the number of trials (default 20).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { segmentLog } from "../../adapters/segments.ts";
import { collect } from "../contract/index.ts";
import { tempDir } from "../helpers/tmp.ts";
import { runUntilKilled } from "./kill-child.ts";

const isDeno = "Deno" in globalThis;
const TRIALS = Number(process.env.CKPT_CRASH_TRIALS ?? 20);
const child = new URL("./segments-reclaim-child.ts", import.meta.url).pathname;

async function runChild(path: string, killAfterMs: number): Promise<string[]> {
  const { lines, signal, err } = await runUntilKilled(child, [path], killAfterMs);
  if (signal !== "SIGKILL") throw new Error(`child exited: ${err}`);
  return lines;
}

test(`segments: ${TRIALS} SIGKILLs during space reclaims: nothing acknowledged lost, nothing phantom`, async () => {
  const dir = await tempDir("ckpt-reclaim-crash-");
  const path = join(dir.path, "log");
  let acked = -1;
  let truncated = 0;
  const deleted: string[] = [];
  let generations = 0;
  for (let trial = 0; trial < TRIALS; trial++) {
    const lines = await runChild(path, 100 + Math.floor(Math.random() * 600));
    for (const l of lines) {
      if (l.startsWith("ack ")) acked = Math.max(acked, Number(l.slice(4)));
      if (l.startsWith("trunc ")) truncated = Math.max(truncated, Number(l.slice(6)));
      if (l.startsWith("del ")) deleted.push(l.slice(4));
    }
    const log = await segmentLog(path, { segmentBytes: 64 << 10 });
    const info = await log.info("keep");
    assert.ok((info?.head ?? -1) >= acked, `trial ${trial}: head ${info?.head} < acked ${acked}`);
    assert.ok((info?.first ?? 0) >= truncated, `trial ${trial}: truncate to ${truncated} undone`);
    const events = await collect(log.read("keep"));
    assert.is(events.length, info!.head - info!.first + 1, `trial ${trial}: a gap`);
    for (const e of events) {
      const ev = e.event as { index: number; item: string };
      assert.is(
        ev.index,
        e.revision,
        `trial ${trial}: revision ${e.revision} is not what was written`,
      );
      assert.is(ev.item, `keep-${e.revision}`);
    }
    if (info!.first > 0) {
      assert.is((await log.loadSnapshot("keep", "base"))?.revision, info!.first - 1);
    }
    const live = new Set((await log.streams()).map((s) => s.stream));
    const back = deleted.filter((s) => live.has(s));
    assert.equal(back, [], `trial ${trial}: deleted streams came back`);
    await log.close();
    generations = JSON.parse(readFileSync(join(path, "SEGMENTS"), "utf8")).generation;
  }
  console.log(
    `reclaim crash (${isDeno ? "deno" : "node"}): ${TRIALS} kills, ${acked + 1} events acked, ` +
      `${deleted.length} deletes, generation ${generations} reached, 0 lost, 0 phantom`,
  );
  assert.ok(generations > TRIALS, `reclaims ran (generation ${generations})`);
  await dir.remove();
});

test.run();
