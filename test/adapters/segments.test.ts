/**
 * The preallocated-log experiment (adapters/segments.ts) runs the shared contract,
 * plus what recovery must tell apart: a torn tail (cut, the log goes on) and damage in the middle
 * (CKPT_CORRUPT, nothing cut).
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { segmentLog } from "../../adapters/segments.ts";
import { HEADER } from "../../adapters/segments/frame.ts";
import { segmentName } from "../../adapters/segments/segments.ts";
import { collect, contractSuite, item } from "../contract/index.ts";
import { tempDir } from "../helpers/tmp.ts";

// Small segments, so the suite also crosses from one segment to the next.
const SEGMENT = 64 << 10;

for (const blocking of [false, true]) {
  contractSuite(`segments${blocking ? " (blocking writes)" : ""}`, async () => {
    const dir = await tempDir();
    let log = await segmentLog(dir.path, { segmentBytes: SEGMENT, blocking });
    return {
      log,
      reopen: async () => {
        await log.close();
        return (log = await segmentLog(dir.path, { segmentBytes: SEGMENT, blocking }));
      },
      cleanup: async () => {
        await log.close().catch(() => undefined);
        await dir.remove();
      },
    };
  }, { durable: true });
}

/** Frame offsets in the first segment (header lengths walked from 0). */
function frames(path: string): { bytes: Uint8Array; at: number[]; end: number } {
  const bytes = new Uint8Array(readFileSync(join(path, segmentName(1, 1))));
  const v = new DataView(bytes.buffer);
  const at: number[] = [];
  let o = 0;
  while (v.getUint32(o, true) !== 0) {
    at.push(o);
    o += HEADER + v.getUint32(o, true);
  }
  return { bytes, at, end: o };
}

async function fourAppends(path: string): Promise<void> {
  const log = await segmentLog(path, { segmentBytes: SEGMENT });
  let head: number | "no_stream" = "no_stream";
  for (let k = 0; k < 4; k++) {
    const batch = Array.from({ length: 10 }, (_, j) => item(k * 10 + j));
    head = (await log.append("s", batch, { expectedRevision: head })).head;
  }
  await log.close();
}

test("a torn last frame is cut on open, and appends go on after it", async () => {
  const dir = await tempDir();
  await fourAppends(dir.path);
  const { bytes, at, end } = frames(dir.path);
  assert.is(at.length, 4);
  // A crash mid-write: the last frame's second half never reached the disk.
  const cut = at[3]! + Math.floor((end - at[3]!) / 2);
  bytes.fill(0, cut, end);
  writeFileSync(join(dir.path, segmentName(1, 1)), bytes);

  let log = await segmentLog(dir.path, { segmentBytes: SEGMENT });
  assert.is((await log.info("s"))?.head, 29, "the torn append is gone, the three before it stay");
  assert.is(
    (await log.append("s", [item(99)], { expectedRevision: 29 })).head,
    30,
  );
  await log.close();
  log = await segmentLog(dir.path, { segmentBytes: SEGMENT });
  const events = await collect(log.read("s"));
  assert.equal(events.map((e) => e.revision), Array.from({ length: 31 }, (_, i) => i));
  assert.is((events[30]!.event as { index: number }).index, 99);
  await log.close();
  await dir.remove();
});

test("a flipped byte or a zeroed header in a middle frame is CKPT_CORRUPT and the files stay as they were", async () => {
  const dir = await tempDir();
  await fourAppends(dir.path);
  for (const where of ["payload", "header", "zeroed header"] as const) {
    const { bytes, at } = frames(dir.path);
    const original = bytes.slice();
    const off = where === "payload" ? at[1]! + HEADER + 5 : at[1]! + 1;
    if (where === "zeroed header") bytes.fill(0, at[1]!, at[1]! + HEADER); // a lost sector
    else bytes[off] = bytes[off]! ^ 0x10;
    writeFileSync(join(dir.path, segmentName(1, 1)), bytes);
    try {
      await segmentLog(dir.path, { segmentBytes: SEGMENT });
      assert.unreachable(`a damaged ${where} should not open`);
    } catch (e) {
      assert.is((e as { code?: string }).code, "CKPT_CORRUPT", (e as Error).message);
    }
    assert.equal(
      new Uint8Array(readFileSync(join(dir.path, segmentName(1, 1)))),
      bytes,
      "nothing was cut",
    );
    writeFileSync(join(dir.path, segmentName(1, 1)), original);
  }
  const log = await segmentLog(dir.path, { segmentBytes: SEGMENT });
  assert.is((await log.info("s"))?.head, 39, "undamaged, everything is back");
  await log.close();
  await dir.remove();
});

test("recovery reads a segment a window at a time: frames across the 1 MiB window, one larger than it, damage past it", async () => {
  // Default 16 MiB segments: recovery (segments/window.ts) reads 1 MiB at a time, so frames
  // straddle windows, and a 1.5 MiB frame needs more than one.
  const dir = await tempDir();
  let log = await segmentLog(dir.path);
  let head: number | "no_stream" = "no_stream";
  const pad = "x".repeat(240);
  const sizes = [1500, 1500, 5000, 1500, 1500, 1500];
  let n = 0;
  for (const size of sizes) {
    const batch = Array.from({ length: size }, () => item(n, { batch: `${n++}${pad}` }));
    head = (await log.append("s", batch, { expectedRevision: head })).head;
  }
  await log.close();
  const { bytes, at } = frames(dir.path);
  const v = new DataView(bytes.buffer);
  assert.is(at.length, sizes.length);
  assert.ok(
    at.some((o, k) => k > 0 && Math.floor(o / (1 << 20)) !== Math.floor(at[k - 1]! / (1 << 20))),
    "a frame starts in a later window than the one before it",
  );
  assert.ok(v.getUint32(at[2]!, true) > 1 << 20, "the third frame is larger than a window");

  log = await segmentLog(dir.path);
  const events = await collect(log.read("s"));
  assert.is(events.length, n, "every event is back");
  assert.equal(events.map((e) => (e.event as { index: number }).index), [...Array(n).keys()]);
  await log.close();

  // A flipped byte in the fifth frame, past the first two windows: CKPT_CORRUPT, nothing cut.
  const damaged = bytes.slice();
  const off = at[4]! + HEADER + 100;
  assert.ok(off > 2 << 20);
  damaged[off] = damaged[off]! ^ 0x10;
  writeFileSync(join(dir.path, segmentName(1, 1)), damaged);
  try {
    await segmentLog(dir.path);
    assert.unreachable("a damaged frame should not open");
  } catch (e) {
    assert.is((e as { code?: string }).code, "CKPT_CORRUPT", (e as Error).message);
  }
  assert.equal(new Uint8Array(readFileSync(join(dir.path, segmentName(1, 1)))), damaged);

  // A torn last frame past the first window: cut, the rest stays.
  const torn = bytes.slice();
  const last = at[5]!;
  torn.fill(0, last + HEADER + 50, last + HEADER + v.getUint32(last, true));
  writeFileSync(join(dir.path, segmentName(1, 1)), torn);
  log = await segmentLog(dir.path);
  assert.is((await log.info("s"))?.head, n - 1501, "only the torn append is gone");
  await log.close();
  await dir.remove();
});

test("appends roll over into new segments and read back across them after a reopen", async () => {
  const dir = await tempDir();
  let log = await segmentLog(dir.path, { segmentBytes: SEGMENT });
  let head: number | "no_stream" = "no_stream";
  for (let k = 0; k < 300; k++) {
    const batch = Array.from({ length: 20 }, (_, j) => item(k * 20 + j, { item: `u-${k}-${j}` }));
    head = (await log.append("roll", batch, { expectedRevision: head })).head;
  }
  await log.close();
  const segs = readdirSync(dir.path).filter((n) => n.endsWith(".seg"));
  assert.ok(segs.length >= 3, `expected several segments, got ${segs.join(", ")}`);
  log = await segmentLog(dir.path, { segmentBytes: SEGMENT });
  const back = await collect(log.read("roll"));
  assert.equal(
    back.map((e) => (e.event as { item?: string }).item),
    Array.from({ length: 6000 }, (_, i) => `u-${Math.floor(i / 20)}-${i % 20}`),
  );
  assert.is((await log.append("roll", [item(0)], { expectedRevision: 5999 })).head, 6000);
  await log.close();
  await dir.remove();
});

test("appends larger than a segment are CKPT_INVALID and write nothing", async () => {
  const dir = await tempDir();
  const log = await segmentLog(dir.path, { segmentBytes: SEGMENT });
  try {
    await log.append("big", [item(0, { error: "x".repeat(SEGMENT) })], {
      expectedRevision: "no_stream",
    });
    assert.unreachable("too large");
  } catch (e) {
    assert.is((e as { code?: string }).code, "CKPT_INVALID");
  }
  assert.is(await log.info("big"), undefined);
  assert.is((await log.append("big", [item(0)], { expectedRevision: "no_stream" })).head, 0);
  await log.close();
  await dir.remove();
});

test.run();
