/**
 * The segment log as a supported adapter: one writer per folder (CKPT_LOCKED, released when the
 * holder is SIGKILLed), the SEGMENTS marker (other folders and newer versions refused), the
 * read-only open beside a live writer, and space given back by truncate/delete.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { segmentLog } from "../../adapters/segments.ts";
import { levelLog } from "../../adapters/level.ts";
import { collect, item } from "../contract/index.ts";
import { holder } from "../helpers/holder.ts";
import { tempDir } from "../helpers/tmp.ts";

const SEGMENT = 64 << 10;
const codeOf = (e: unknown) => (e as { code?: string }).code;

async function refused(
  p: Promise<unknown>,
): Promise<{ code: string | undefined; message: string }> {
  try {
    await p;
  } catch (e) {
    return { code: codeOf(e), message: (e as Error).message };
  }
  throw new Error("expected a refusal");
}

test("a second open in the same process is CKPT_LOCKED naming the folder; after close it opens", async () => {
  const dir = await tempDir();
  const log = await segmentLog(dir.path);
  const e = await refused(segmentLog(dir.path));
  assert.is(e.code, "CKPT_LOCKED");
  assert.match(e.message, dir.path);
  assert.match(e.message, "ckpt-server");
  await log.close();
  const again = await segmentLog(dir.path);
  await again.close();
  await dir.remove();
});

test("the lock holds across processes and is released when the holder is SIGKILLed", async () => {
  const dir = await tempDir();
  const held = await holder(
    new URL("./segments-holder.ts", import.meta.url),
    join(dir.path, "log"),
  );
  const e = await refused(segmentLog(join(dir.path, "log")));
  assert.is(e.code, "CKPT_LOCKED", e.message);
  // Reading beside the holder needs no lock.
  const reader = await segmentLog(join(dir.path, "log"), { readOnly: true });
  await reader.close();
  await held.kill();
  const log = await segmentLog(join(dir.path, "log"));
  await log.close();
  await dir.remove();
});

test("SEGMENTS marks the folder; a LevelDB folder, other files and a newer version are refused", async () => {
  const dir = await tempDir();
  const path = join(dir.path, "seg");
  const log = await segmentLog(path);
  await log.close();
  const marker = JSON.parse(readFileSync(join(path, "SEGMENTS"), "utf8"));
  assert.equal(marker, { format: "ckpt-segments", version: 1, generation: 1 });

  const lvl = join(dir.path, "level");
  await (await levelLog(lvl)).close();
  const before = readdirSync(lvl).sort();
  assert.is((await refused(segmentLog(lvl))).code, "CKPT_INVALID");
  assert.is((await refused(segmentLog(lvl, { readOnly: true }))).code, "CKPT_INVALID");
  assert.equal(readdirSync(lvl).sort(), before, "nothing was added to the LevelDB folder");
  // And LevelDB refuses a segment log.
  assert.is((await refused(levelLog(path))).code, "CKPT_INVALID");

  const other = join(dir.path, "other");
  mkdirSync(other);
  writeFileSync(join(other, "notes.txt"), "hello");
  assert.is((await refused(segmentLog(other))).code, "CKPT_INVALID");

  writeFileSync(
    join(path, "SEGMENTS"),
    JSON.stringify({ format: "ckpt-segments", version: 2, generation: 1 }),
  );
  const newer = await refused(segmentLog(path));
  assert.is(newer.code, "CKPT_INVALID");
  assert.match(newer.message, "version 2");
  writeFileSync(join(path, "SEGMENTS"), "{ torn");
  assert.is((await refused(segmentLog(path))).code, "CKPT_CORRUPT");
  await dir.remove();
});

test("read-only: a missing folder is CKPT_NOT_FOUND and is not created; writes are CKPT_INVALID; no byte changes", async () => {
  const dir = await tempDir();
  const missing = join(dir.path, "none");
  assert.is((await refused(segmentLog(missing, { readOnly: true }))).code, "CKPT_NOT_FOUND");
  assert.not.ok(existsSync(missing));

  const path = join(dir.path, "log");
  const w = await segmentLog(path, { segmentBytes: SEGMENT });
  await w.append("s", [item(0), item(1)], { expectedRevision: "no_stream" });
  const snapshot = () =>
    readdirSync(path).filter((n) => n !== "lock").sort().map((
      n,
    ) => [n, readFileSync(join(path, n))]);
  const r = await segmentLog(path, { readOnly: true });
  assert.is((await r.info("s"))?.head, 1);
  for (
    const write of [
      () => r.append("s", [item(2)], { expectedRevision: 1 }),
      () => r.delete("s"),
      () => r.truncateBefore("s", 1, { revision: 0, version: 1, state: {} } as never),
      () => r.saveSnapshot("s", { revision: 0, version: 1, state: {} } as never),
    ]
  ) assert.is((await refused(write())).code, "CKPT_INVALID");
  await r.close();
  // Writes after the reader opened are not seen by it, and the reader changed nothing.
  await w.append("s", [item(2)], { expectedRevision: 1 });
  const files = snapshot();
  const r2 = await segmentLog(path, { readOnly: true });
  assert.equal((await collect(r2.read("s"))).map((e) => e.revision), [0, 1, 2]);
  await r2.close();
  assert.equal(snapshot(), files);
  await w.close();
  await dir.remove();
});

test("read-only beside a live writer: every open reads a whole prefix", async () => {
  const dir = await tempDir();
  const w = await segmentLog(dir.path, { segmentBytes: SEGMENT });
  let head: number | "no_stream" = "no_stream";
  let stop = false;
  const writing = (async () => {
    for (let k = 0; !stop; k++) {
      head = (await w.append("s", Array.from({ length: 8 }, (_, j) => item(k * 8 + j)), {
        expectedRevision: head,
      })).head;
    }
  })();
  let opens = 0;
  for (const end = Date.now() + 1500; Date.now() < end; opens++) {
    const r = await segmentLog(dir.path, { readOnly: true });
    const info = await r.info("s");
    const events = await collect(r.read("s"));
    assert.equal(events.length, info ? info.head + 1 : 0);
    events.forEach((e, i) => assert.is((e.event as { index: number }).index, i));
    await r.close();
  }
  stop = true;
  await writing;
  await w.close();
  assert.ok(opens > 3);
  await dir.remove();
});

test("truncate and delete give the disk back: a generation rewrite, same content after reopen", async () => {
  const dir = await tempDir();
  let log = await segmentLog(dir.path, { segmentBytes: SEGMENT });
  const heads: Record<string, number> = {};
  for (let k = 0; k < 200; k++) {
    for (const s of ["a", "b", "c"]) {
      const batch = Array.from(
        { length: 10 },
        (_, j) => item(k * 10 + j, { item: `${s}-${k}-${j}` }),
      );
      heads[s] = (await log.append(s, batch, {
        expectedRevision: heads[s] === undefined ? "no_stream" : heads[s]!,
      })).head;
    }
  }
  await log.saveSnapshot("c", { revision: 1999, version: 1, state: { n: 1 } } as never);
  const before = await log.sizeBytes!();
  await log.delete("a");
  await log.truncateBefore("b", 1990, { revision: 1989, version: 1, state: { n: 2 } } as never);
  const after = await log.sizeBytes!();
  console.log(`segments reclaim: ${before} → ${after} bytes`);
  assert.ok(after < before, `${before} → ${after}`);
  const segs = () => readdirSync(dir.path).filter((n) => n.endsWith(".seg"));
  assert.ok(segs().every((n) => n.startsWith("000002-")), segs().join(" "));
  const check = async () => {
    assert.is(await log.info("a"), undefined);
    assert.equal(
      (await collect(log.read("b"))).map((e) => e.revision),
      Array.from({ length: 10 }, (_, i) => 1990 + i),
    );
    assert.equal((await log.loadSnapshot("b", "base"))?.revision, 1989);
    assert.equal((await log.loadSnapshot("c"))?.state, { n: 1 });
    assert.equal(
      (await collect(log.read("c", { limit: 2000 }))).map((e) =>
        (e.event as { item: string }).item
      ),
      Array.from({ length: 2000 }, (_, i) => `c-${Math.floor(i / 10)}-${i % 10}`),
    );
    assert.equal((await log.info("b"))?.first, 1990);
  };
  await check();
  assert.is((await log.append("c", [item(5)], { expectedRevision: 1999 })).head, 2000);
  await log.close();
  log = await segmentLog(dir.path, { segmentBytes: SEGMENT });
  await check();
  assert.is((await log.info("c"))?.head, 2000);
  await log.close();
  await dir.remove();
});

test.run();
