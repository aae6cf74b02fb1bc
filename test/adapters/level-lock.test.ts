/**
 * A store another process holds: the open is refused with CKPT_LOCKED and the folder is left as it
 * was. A refused open is no damage, so it keeps no evidence: no `damaged-*` folder of hard links
 * (which would also pin the holder's old files on disk after its compactions), and nothing of an
 * open in progress elsewhere is touched.
 */
import { link, mkdir, readdir, utimes } from "node:fs/promises";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { levelLog } from "../../adapters/level.ts";
import { STALE_LINKS_MS } from "../../adapters/level/open.ts";
import { holder } from "../helpers/holder.ts";
import { tempDir } from "../helpers/tmp.ts";

/** Every name in the folder and one level down, LevelDB's info LOG aside (LevelDB rotates it). */
async function listing(path: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path, { withFileTypes: true })) {
    if (/^LOG(\.old)?$/.test(e.name)) continue;
    out.push(e.name);
    if (e.isDirectory()) {
      for (const n of await readdir(join(path, e.name))) out.push(`${e.name}/${n}`);
    }
  }
  return out.sort();
}

async function refusal(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error("the open was not refused");
}

test("an open refused because another process holds the store leaves its folder as it was", async () => {
  const dir = await tempDir();
  const path = join(dir.path, "store");
  const held = await holder(new URL("./level-holder.ts", import.meta.url), path);
  try {
    const before = await listing(path);
    for (let k = 0; k < 3; k++) {
      const e = await refusal(levelLog(path));
      assert.is(e.code, "CKPT_LOCKED", e.message);
      assert.match(e.message, "ckpt-server");
      assert.not.match(e.message, "kept in", "nothing is damaged, so no evidence is announced");
    }
    assert.equal(await listing(path), before, "no damaged-* copy, no links left behind");
  } finally {
    await held.kill();
  }
  // Once the holder is gone the store opens and holds what it wrote.
  const log = await levelLog(path);
  assert.is((await log.info("s"))?.head, 0);
  await log.close();
  assert.ok(!(await readdir(path)).some((n) => n.startsWith(".open-links")), "the open cleaned up");
  await dir.remove();
});

test("a refused open leaves the evidence links of another open in progress alone", async () => {
  const dir = await tempDir();
  const path = join(dir.path, "store");
  const held = await holder(new URL("./level-holder.ts", import.meta.url), path);
  try {
    // What an open in progress keeps while LevelDB recovers (its hard links to the store's files),
    // under the name ckpt used for it.
    const other = join(path, ".open-links");
    await mkdir(other);
    await link(join(path, "CURRENT"), join(other, "CURRENT"));
    const before = await listing(path);
    assert.is((await refusal(levelLog(path))).code, "CKPT_LOCKED");
    assert.equal(await listing(path), before);
  } finally {
    await held.kill();
  }
  await dir.remove();
});

test("an open that checks out sweeps links folders left hours ago, not one of an open in progress", async () => {
  const dir = await tempDir();
  const path = join(dir.path, "store");
  const log = await levelLog(path);
  await log.append("s", [{ type: "item", v: 1, at: 0, index: 0, outcome: "ok" }], {
    expectedRevision: "no_stream",
  });
  await log.close();
  const links = async (name: string, ageMs: number) => {
    await mkdir(join(path, name));
    await link(join(path, "CURRENT"), join(path, name, "CURRENT"));
    const t = new Date(Date.now() - ageMs);
    await utimes(join(path, name), t, t);
  };
  // Killed midway, by this version (unique name) and by an older one (the shared name).
  await links(".open-links-1234-dead", STALE_LINKS_MS + 60_000);
  await links(".open-links", STALE_LINKS_MS + 60_000);
  // Another process's open in progress: it may take the lock as soon as this one closes.
  await links(".open-links-5678-live", 1000);
  // A read-only open (ckpt show, list, verify…) never holds the lock: it sweeps nothing.
  const reader = await levelLog(path, { readOnly: true });
  await reader.close();
  assert.equal(
    (await readdir(path)).filter((n) => n.startsWith(".open-links")).sort(),
    [".open-links", ".open-links-1234-dead", ".open-links-5678-live"],
  );
  const again = await levelLog(path);
  assert.is((await again.info("s"))?.head, 0);
  assert.equal(
    (await readdir(path)).filter((n) => n.startsWith(".open-links")),
    [".open-links-5678-live"],
  );
  await again.close();
  await dir.remove();
});

test.run();
