/**
 * The README's example pipeline: killed with SIGKILL mid-run, run again, it completes with every
 * item done once.
 */
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { open } from "../mod.ts";
import { tempDir } from "./helpers/tmp.ts";

const script = new URL("../examples/pipeline.ts", import.meta.url).pathname;
const isDeno = "Deno" in globalThis;
const command = isDeno
  ? [process.execPath, "run", "-A", script]
  : [process.execPath, "--import", "tsx", script];

function run(
  dir: string,
  killAfterAcks?: number,
): Promise<{ out: string; signal: string | null; code: number | null }> {
  return new Promise((resolve) => {
    const args = [
      ...command.slice(1),
      "--items",
      "600",
      "--store",
      join(dir, "store"),
      "--out",
      join(dir, "out"),
      "--delay-ms",
      "1",
    ];
    const p = spawn(command[0]!, args, { env: { ...process.env, CKPT_EXAMPLE_ACK: "1" } });
    let out = "";
    p.stdout.on("data", (d) => {
      out += d;
      if (killAfterAcks !== undefined && (out.match(/^ack /gm)?.length ?? 0) >= killAfterAcks) {
        p.kill("SIGKILL");
      }
    });
    p.stderr.on("data", (d) => (out += d));
    p.on("close", (code, signal) => resolve({ out, signal, code }));
  });
}

test("kill -9 mid-run, run again: completes, nothing acknowledged redone", async () => {
  const dir = await tempDir();
  const first = await run(dir.path, 150);
  assert.is(first.signal, "SIGKILL");
  const ackedFirst = new Set(first.out.match(/^ack (\d+)$/gm)!.map((l) => Number(l.slice(4))));
  const second = await run(dir.path);
  assert.is(second.code, 0, second.out);
  assert.match(second.out, "resuming after a crash");
  assert.match(second.out, "completed: 600/600");
  const ackedSecond = (second.out.match(/^ack (\d+)$/gm) ?? []).map((l) => Number(l.slice(4)));
  assert.equal(
    ackedSecond.filter((i) => ackedFirst.has(i)),
    [],
    "acknowledged items are not redone",
  );
  // The second run skips what the first recorded (every acknowledged item, plus any recorded as the
  // kill landed, before its ack was printed) and does exactly the rest.
  const skipped = Number(
    /resuming after a crash; ([\d,]+) items done will be skipped/.exec(second.out)![1]!.replace(
      /,/g,
      "",
    ),
  );
  assert.ok(skipped >= ackedFirst.size, `skipped ${skipped} < acknowledged ${ackedFirst.size}`);
  assert.is(skipped + ackedSecond.length, 600, "each item done once across both runs");
  assert.is(readdirSync(join(dir.path, "out")).filter((f) => f.endsWith(".json")).length, 600);
  const store = await open({ path: join(dir.path, "store") });
  const s = await store.stage("example-fetch").state();
  assert.is(s.counters.processed, 600);
  assert.is(s.counters.duplicates, 0);
  assert.is(s.runs, 2);
  await store.close();
  await dir.remove();
});

test.run();
