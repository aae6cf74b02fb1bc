/**
 * Reading commands on a LevelDB folder never write to it (they read a private view), also while a
 * pipeline holds it, and `watch` takes a fresh view each interval so it follows the pipeline.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runCli } from "../../cli/run.ts";
import { readLedger } from "../../adapters/level/ledger.ts";
import { open } from "../../mod.ts";
import { eventually } from "../server/helpers.ts";
import { cli, fakeIo, tempDir } from "./helpers.ts";

const fingerprint = (dir: string) =>
  readdirSync(dir)
    .filter((n) => n !== "LOG" && n !== "LOCK") // LevelDB's info log and lock belong to the process holding the store
    .sort()
    .map((n) =>
      `${n} ${
        statSync(join(dir, n)).isDirectory()
          ? "dir"
          : createHash("sha256").update(readFileSync(join(dir, n))).digest("hex")
      }`
    )
    .join("\n");

test("while a pipeline holds the store: every reading command works and changes no file; watch sees new writes", async () => {
  const dir = await tempDir();
  const path = join(dir.path, "store");
  const store = await open({ path });
  try {
    const run = await store.stage("fetch").begin({ total: 100 });
    for (let i = 0; i < 10; i++) await run.done(i);
    // The pipeline writes its ledger behind its appends (adapters/level/ledger.ts): wait until it
    // holds the last one.
    assert.ok(
      await eventually(async () => (await readLedger(path))?.get("fetch")?.head === 10),
      "the ledger caught up",
    );
    const before = fingerprint(path);
    for (
      const argv of [["list"], ["show", "fetch"], ["replay", "fetch"], ["report"], ["export"], [
        "verify",
      ]]
    ) {
      const r = await cli([...argv, "--store", path]);
      assert.is(r.code, 0, `${argv[0]}: ${r.err}`);
    }
    assert.is(fingerprint(path), before, "no file of the store changed");
    assert.match((await cli(["show", "fetch", "--json", "--store", path])).out, '"processed": 10');

    const c = fakeIo();
    const watching = runCli(
      ["watch", "fetch", "--json", "--interval", "20ms", "--store", path],
      c.io,
    );
    const seen = async (n: number) => {
      for (let t = 0; t < 300; t++) {
        if (c.out().includes(`"done":${n},`)) return true;
        await new Promise((r) => setTimeout(r, 20));
      }
      return false;
    };
    assert.ok(await seen(10), `watch shows the first 10: ${c.out()}`);
    for (let i = 10; i < 25; i++) await run.done(i);
    assert.ok(await seen(25), `watch follows the pipeline to 25: ${c.out()}`);
    c.abort();
    assert.is(await watching, 0);
    await run.close();
  } finally {
    await store.close();
    await dir.remove();
  }
});

test.run();
