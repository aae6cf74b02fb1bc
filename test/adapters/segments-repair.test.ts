/**
 * repairSegments (adapters/segments/repair.ts): a log damaged in the middle, refused on open, is
 * cut at its first damaged frame; the report says what was kept and lost, the files as they were
 * are kept, and the log opens and goes on. A log a writer holds is refused (CKPT_LOCKED).
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { segmentLog } from "../../adapters/segments.ts";
import { HEADER } from "../../adapters/segments/frame.ts";
import { repairSegments } from "../../adapters/segments/repair.ts";
import { segmentName } from "../../adapters/segments/segments.ts";
import { item } from "../contract/index.ts";
import { tempDir } from "../helpers/tmp.ts";

const SEGMENT = 64 << 10;
const codeOf = (e: unknown) => (e as { code?: string }).code;

async function fourAppends(path: string): Promise<void> {
  const log = await segmentLog(path, { segmentBytes: SEGMENT });
  let head: number | "no_stream" = "no_stream";
  for (let k = 0; k < 4; k++) {
    const batch = Array.from({ length: 10 }, (_, j) => item(k * 10 + j));
    head = (await log.append("s", batch, { expectedRevision: head })).head;
    await log.append("t", [item(k)], { expectedRevision: k === 0 ? "no_stream" : k - 1 });
  }
  await log.close();
}

test("a flipped byte in the middle: cut there, losses reported, files kept, the log goes on", async () => {
  const dir = await tempDir();
  await fourAppends(dir.path);
  const file = join(dir.path, segmentName(1, 1));
  const bytes = new Uint8Array(readFileSync(file));
  const v = new DataView(bytes.buffer);
  // The third frame (the second append to "s") gets a flipped payload byte.
  let at = 0;
  for (let k = 0; k < 2; k++) at += HEADER + v.getUint32(at, true);
  bytes[at + HEADER + 5]! ^= 0x10;
  writeFileSync(file, bytes);
  assert.is(
    await segmentLog(dir.path).then(() => "opened", codeOf),
    "CKPT_CORRUPT",
  );

  const r = await repairSegments(dir.path);
  assert.equal(r.stages, [
    { stage: "s", kept: [0, 9], lost: [10, 39], historyLost: null, notes: [] },
    { stage: "t", kept: [0, 0], lost: [1, 3], historyLost: null, notes: [] },
  ]);
  assert.ok(r.kept.includes("-before-repair"));
  assert.equal(new Uint8Array(readFileSync(join(r.kept, segmentName(1, 1)))), bytes);

  const log = await segmentLog(dir.path, { segmentBytes: SEGMENT });
  assert.is((await log.info("s"))?.head, 9);
  assert.is((await log.append("s", [item(10)], { expectedRevision: 9 })).head, 10);
  await log.close();
  await dir.remove();
});

test("a lost SEGMENTS marker is written again; a held log is CKPT_LOCKED and left alone", async () => {
  const dir = await tempDir();
  await fourAppends(dir.path);
  rmSync(join(dir.path, "SEGMENTS"));
  assert.is(await segmentLog(dir.path).then(() => "opened", codeOf), "CKPT_CORRUPT");
  const r = await repairSegments(dir.path);
  assert.equal(r.stages.map((s) => [s.stage, s.kept, s.lost]), [
    ["s", [0, 39], null],
    ["t", [0, 3], null],
  ]);
  const log = await segmentLog(dir.path);
  assert.is((await log.info("s"))?.head, 39);
  const files = readdirSync(dir.path).sort();
  assert.is(await repairSegments(dir.path).then(() => "repaired", codeOf), "CKPT_LOCKED");
  assert.equal(readdirSync(dir.path).sort(), files);
  await log.close();
  const missing = join(dir.path, "none");
  assert.is(await repairSegments(missing).then(() => "repaired", codeOf), "CKPT_NOT_FOUND");
  await dir.remove();
});

test.run();
