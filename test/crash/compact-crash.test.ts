/**
 * Compaction under SIGKILL: a child compacting a large LevelDB store is killed at random moments,
 * trial after trial; every time the store must open and every stage's state must be unchanged.
 * CKPT_CRASH_TRIALS raises the number of trials (default 20).
 */
import { spawn } from "node:child_process";
import process from "node:process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { open } from "../../mod.ts";
import { tempDir } from "../helpers/tmp.ts";

const TRIALS = Number(process.env.CKPT_CRASH_TRIALS ?? 20);
const STAGES = 12;
const EVENTS = 3000;
const child = new URL("./compact-child.ts", import.meta.url).pathname;
const isDeno = "Deno" in globalThis;
const command = isDeno
  ? [process.execPath, "run", "-A", child]
  : [process.execPath, "--import", "tsx", child];

function compactAndMaybeKill(
  path: string,
  maxEvents: number,
  killAfterMs: number,
): Promise<{ killed: boolean; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(command[0]!, [...command.slice(1), path, String(maxEvents)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    let timer: ReturnType<typeof setTimeout> | undefined;
    p.stdout.on("data", (d) => {
      out += d;
      if (timer === undefined && out.includes("ready")) {
        timer = setTimeout(() => p.kill("SIGKILL"), killAfterMs);
      }
    });
    p.stderr.on("data", (d) => (err += d));
    p.on("error", reject);
    p.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      if (signal === "SIGKILL") return resolve({ killed: !out.includes("done"), out });
      if (code !== 0) return reject(new Error(`compaction child exited ${code}: ${err}`));
      resolve({ killed: false, out });
    });
  });
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
