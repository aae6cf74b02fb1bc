/**
 * Compaction under SIGKILL: a child compacting a large LevelDB store is killed at random moments,
 * trial after trial; every time the store must open and every stage's state must be unchanged.
 * CKPT_CRASH_TRIALS raises the number of trials (default 20).
 */
import process from "node:process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { open } from "../../mod.ts";
import { tempDir } from "../helpers/tmp.ts";
import { runUntilKilled } from "./kill-child.ts";

const isDeno = "Deno" in globalThis;
const TRIALS = Number(process.env.CKPT_CRASH_TRIALS ?? 20);
const STAGES = 12;
const EVENTS = 3000;
const child = new URL("./compact-child.ts", import.meta.url).pathname;

async function compactAndMaybeKill(
  path: string,
  maxEvents: number,
  killAfterMs: number,
): Promise<{ killed: boolean; out: string }> {
  const { out, code, signal, err } = await runUntilKilled(
    child,
    [path, String(maxEvents)],
    killAfterMs,
  );
  if (signal === "SIGKILL") return { killed: !out.includes("done"), out };
  if (code !== 0) throw new Error(`compaction child exited ${code}: ${err}`);
  return { killed: false, out };
}

test(`${TRIALS} SIGKILLs during compaction: the store always opens with every state unchanged`, async () => {
  const dir = await tempDir("ckpt-compact-crash-");
  const path = dir.path;
  const store = await open({ path, durability: "os", snapshotEvery: 250 });
  for (let s = 0; s < STAGES; s++) {
    const run = await store.stage(`stage-${s}`).begin({ total: EVENTS });
    for (let i = 0; i < EVENTS; i++) {
      // Out of order, in many small appends: a realistic page layout to cut through.
      run.mark((i * 7919) % EVENTS, { item: `item-${i}` });
      if (i % 7 === 0) await run.flush();
    }
    if (s % 2) await run.complete();
    else await run.pause();
    await run.close();
  }
  const expected = new Map<string, string>();
  for (const { stage, state } of await store.stages()) expected.set(stage, JSON.stringify(state));
  await store.close();

  let killedMidway = 0;
  for (let trial = 0; trial < TRIALS; trial++) {
    const maxEvents = EVENTS - (trial + 1) * Math.floor(EVENTS / (TRIALS + 2));
    const r = await compactAndMaybeKill(path, maxEvents, Math.floor(Math.random() * 500));
    if (r.killed) killedMidway++;
    const again = await open({ path });
    for (const { stage, state } of await again.stages()) {
      assert.is(JSON.stringify(state), expected.get(stage), `trial ${trial}: ${stage} changed`);
    }
    assert.is((await again.stages()).length, STAGES);
    await again.close();
  }
  console.log(
    `compact-crash: ${TRIALS} trials (${
      isDeno ? "deno" : "node"
    }), ${killedMidway} killed mid-compaction, every state unchanged`,
  );
  assert.ok(killedMidway > 0, "at least one kill landed mid-compaction");
  await dir.remove();
});

test.run();
