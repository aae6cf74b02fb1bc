/**
 * SIGINT / SIGTERM: the handler flushes, records the stage paused and exits 130 / 143 — on Node and
 * Deno.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { open } from "../../mod.ts";
import { tempDir } from "../helpers/tmp.ts";

const child = new URL("./signal-child.ts", import.meta.url).pathname;
const isDeno = "Deno" in globalThis;
const command = isDeno
  ? [process.execPath, "run", "-A", child]
  : [process.execPath, "--import", "tsx", child];

for (const [signal, expected] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  test(`${signal}: flushed, paused, exit ${expected}`, async () => {
    const dir = await tempDir();
    const p = spawn(command[0]!, [...command.slice(1), dir.path], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve) =>
      p.stdout.on("data", (d) => String(d).includes("ready") && resolve())
    );
    await new Promise((r) => setTimeout(r, 100));
    p.kill(signal);
    const [code, sig] = await new Promise<[number | null, string | null]>((resolve) =>
      p.on("close", (c, s) => resolve([c, s]))
    );
    // Deno's child_process reports an exit status of 128+n as "killed by signal n"; the paused
    // state below is what proves the handler ran (a process killed outright cannot record it).
    if (isDeno && code === null) assert.is(sig, signal);
    else assert.is(code, expected);
    const store = await open({ path: join(dir.path, "store") });
    const state = await store.stage("sig").state();
    assert.is(state.status, "paused");
    assert.ok(state.counters.processed >= 100, `${state.counters.processed} recorded`);
    const h = await store.stage("sig").history();
    assert.is(h.statusChanges.at(-1)?.reason, signal);
    await store.close();
    await dir.remove();
  });
}

test.run();
