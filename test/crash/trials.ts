/**
 * Real crashes: a child process runs a pipeline against a store and is SIGKILLed at a random
 * moment, again and again on the same store. After every kill the store must open, hold every
 * acknowledged item, and hold no item that was never processed. Shared by the adapters' crash test
 * files. CKPT_CRASH_TRIALS=1000 runs more trials locally (default 20).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { has } from "../../core/resume-set.ts";
import { tempDir } from "../helpers/tmp.ts";
import { runUntilKilled } from "./kill-child.ts";
import { type CrashAdapter, openStore } from "./open-store.ts";

const TRIALS = Number(process.env.CKPT_CRASH_TRIALS ?? 20);
const TOTAL = 200_000;
const child = new URL("./child.ts", import.meta.url).pathname;

interface Trial {
  acked: number[];
  completed: boolean;
  ready: boolean;
}

async function runChild(
  adapter: CrashAdapter,
  dir: string,
  stage: string,
  killAfterMs: number,
): Promise<Trial> {
  const { lines, code, signal, err } = await runUntilKilled(
    child,
    [dir, stage, String(TOTAL), adapter],
    killAfterMs,
  );
  const completed = lines.includes("complete");
  if (signal !== "SIGKILL" && !completed) {
    throw new Error(`child exited ${code} ${signal}: ${err}`);
  }
  return {
    acked: lines.filter((l) => l.startsWith("ack ")).map((l) => Number(l.slice(4))),
    completed,
    ready: lines.some((l) => l.startsWith("ready")),
  };
}

/** Registers the crash test on `adapter`'s store; the caller runs uvu's `test.run()`. */
export function crashTrials(adapter: CrashAdapter): void {
  test(`${adapter}: ${TRIALS} SIGKILLs at random moments: nothing acknowledged lost, nothing unprocessed marked done`, async () => {
    const dir = await tempDir("ckpt-crash-");
    let generation = 0;
    let totalAcked = 0;
    let kills = 0;
    const acked = new Set<number>();
    for (let trial = 0; trial < TRIALS; trial++) {
      const stage = `crash-${generation}`;
      const r = await runChild(adapter, dir.path, stage, 30 + Math.floor(Math.random() * 400));
      if (!r.completed) kills++;
      for (const i of r.acked) acked.add(i);
      totalAcked += r.acked.length;
      const processed = new Set(
        readFileSync(join(dir.path, "processed.txt"), "utf8").split("\n").filter(Boolean).map(
          Number,
        ),
      );
      // The store must open after every kill.
      const store = await openStore(join(dir.path, "store"), adapter);
      const state = await store.stage(stage).state();
      const missing = [...acked].filter((i) => !has(state.resume, i));
      assert.equal(
        missing.slice(0, 10),
        [],
        `trial ${trial}: ${missing.length} acknowledged items missing`,
      );
      let phantom = 0;
      for (let i = 0; i < TOTAL; i++) if (has(state.resume, i) && !processed.has(i)) phantom++;
      assert.is(phantom, 0, `trial ${trial}: items marked done that were never processed`);
      assert.is(
        state.counters.processed,
        [...Array(TOTAL).keys()].filter((i) => has(state.resume, i)).length,
      );
      await store.close();
      if (r.completed) {
        generation++;
        acked.clear();
        const { rmSync } = await import("node:fs");
        rmSync(join(dir.path, "processed.txt"), { force: true });
      }
    }
    console.log(
      `crash (${adapter}): ${TRIALS} trials (${
        "Deno" in globalThis ? "deno" : "node"
      }), ${kills} killed mid-run, ${totalAcked} acks checked, 0 lost, 0 phantom`,
    );
    assert.ok(kills > 0, "at least one trial was killed mid-run");
    await dir.remove();
  });
}
