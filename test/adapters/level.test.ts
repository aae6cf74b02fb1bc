/** The LevelDB adapter runs the shared contract, plus what only a folder on disk can show. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { levelLog } from "../../adapters/level.ts";
import { collect, contractSuite, item } from "../contract/index.ts";
import { tempDir } from "../helpers/tmp.ts";

contractSuite("level", async () => {
  const dir = await tempDir();
  let log = await levelLog(dir.path);
  return {
    log,
    reopen: async () => {
      await log.close();
      return (log = await levelLog(dir.path));
    },
    cleanup: async () => {
      await log.close().catch(() => undefined);
      await dir.remove();
    },
  };
}, { durable: true });

test("a second open of the same folder is CKPT_LOCKED and points to ckpt-server", async () => {
  const dir = await tempDir();
  const log = await levelLog(dir.path);
  try {
    await levelLog(dir.path);
    assert.unreachable("second open should fail");
  } catch (e) {
    assert.is((e as { code: string }).code, "CKPT_LOCKED");
    assert.match((e as Error).message, "ckpt-server");
  } finally {
    await log.close();
    await dir.remove();
  }
});

test("durability 'os' still persists across a clean reopen", async () => {
  const dir = await tempDir();
  const log = await levelLog(dir.path, { durability: "os" });
  await log.append("s", [item(0), item(1)], { expectedRevision: "no_stream" });
  await log.close();
  const again = await levelLog(dir.path);
  assert.is((await again.info("s"))?.head, 1);
  await again.close();
  await dir.remove();
});

test("pages of plain items (column-encoded) and mixed pages read back exactly", async () => {
  const dir = await tempDir();
  const log = await levelLog(dir.path);
  const plain = Array.from({ length: 500 }, (_, k) => item((k * 37) % 500));
  const mixed = [
    item(1000, { item: "u" }),
    item(1001, { outcome: "failed", error: "x" }),
    ...Array.from({ length: 20 }, (_, k) => item(2000 + k)),
  ];
  await log.append("cols", plain, { expectedRevision: "no_stream" });
  await log.append("cols", mixed, { expectedRevision: 499 });
  const back = await collect(log.read("cols"));
  assert.equal(back.map((e) => e.event), [...plain, ...mixed]);
  assert.equal(
    (await collect(log.read("cols", { from: 250, limit: 3 }))).map((e) => e.event),
    plain.slice(250, 253),
  );
  await log.close();
  await dir.remove();
});

test.run();
