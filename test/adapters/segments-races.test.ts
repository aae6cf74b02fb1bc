/**
 * The segment log where timing and damage meet (found in review): a reader in another process
 * beside a busy writer, a whole frame lost at a segment's end, a space reclaim that fails before its
 * switch, and a backward read across a reclaim.
 */
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { segmentLog } from "../../adapters/segments.ts";
import { HEADER, readHeader } from "../../adapters/segments/frame.ts";
import { segmentName } from "../../adapters/segments/segments.ts";
import { collect, item } from "../contract/index.ts";
import { tempDir } from "../helpers/tmp.ts";

const SEGMENT = 64 << 10;
const codeOf = (e: unknown) => (e as { code?: string }).code;
const isDeno = "Deno" in globalThis;

test("read-only opens beside a busy writer in another process never call its appends damage", async () => {
  const dir = await tempDir();
  const script = new URL("./segments-writer-child.ts", import.meta.url).pathname;
  const [cmd, args] = isDeno
    ? [process.execPath, ["run", "-A", "--quiet", script, dir.path]]
    : [process.execPath, ["--import", "tsx", script, dir.path]];
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once("data", () => resolve());
      child.once("exit", (code) => reject(new Error(`the writer exited with ${code}`)));
    });
    // Let the log grow past the first 1 MiB window, where the race used to show.
    const seg = join(dir.path, segmentName(1, 1));
    for (let t = 0; t < 200; t++) {
      const b = readFileSync(seg);
      if (b.subarray((2 << 20) - HEADER, 2 << 20).some((x) => x !== 0)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const failures: string[] = [];
    let last = -1;
    for (let i = 0; i < 15; i++) {
      try {
        const r = await segmentLog(dir.path, { readOnly: true });
        const head = (await r.info("s"))?.head ?? -1;
        assert.ok(head >= last, "each open sees at least what the one before saw");
        last = head;
        await r.close();
      } catch (e) {
        failures.push(`${codeOf(e)}: ${(e as Error).message.slice(0, 160)}`);
      }
    }
    assert.equal(failures, [], "every read-only open succeeded");
    assert.ok(last > 1000, `the writer was busy (head ${last})`);
  } finally {
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    await dir.remove();
  }
});

test("a whole frame lost at the end of a segment is CKPT_CORRUPT, and the next segment's frames stay", async () => {
  const dir = await tempDir();
  let log = await segmentLog(dir.path, { segmentBytes: SEGMENT });
  const second = join(dir.path, segmentName(1, 2));
  let head: number | "no_stream" = "no_stream";
  const started = () => {
    try {
      return readFileSync(second).subarray(0, HEADER).some((b) => b !== 0);
    } catch {
      return false;
    }
  };
  while (!started()) {
    head = (await log.append("s", [item(head === "no_stream" ? 0 : head + 1)], {
      expectedRevision: head,
    })).head;
  }
  await log.close();
  // Segment 1's last frame reads back as zeros (a lost write): segment 2's first frame is then out
  // of sequence, whole and checked, which no torn write can leave.
  const first = join(dir.path, segmentName(1, 1));
  const bytes = readFileSync(first);
  let at = 0;
  let lastFrame = 0;
  for (;;) {
    const h = readHeader(bytes, at);
    if (h.kind !== "ok") break;
    lastFrame = at;
    at += HEADER + h.length;
  }
  bytes.fill(0, lastFrame, at);
  writeFileSync(first, bytes);
  const secondBefore = readFileSync(second);
  try {
    log = await segmentLog(dir.path, { segmentBytes: SEGMENT });
    await log.close();
    assert.unreachable("a log missing an acknowledged frame should not open");
  } catch (e) {
    assert.is(codeOf(e), "CKPT_CORRUPT", (e as Error).message);
  }
  assert.equal(readFileSync(second), secondBefore, "segment 2's frames were not cut");
  await dir.remove();
});

test("a space reclaim that fails before its switch settles: the truncate resolves, later appends land", async () => {
  const dir = await tempDir();
  const log = await segmentLog(dir.path, { segmentBytes: SEGMENT });
  let head: number | "no_stream" = "no_stream";
  for (let k = 0; k < 400; k++) {
    const batch = Array.from({ length: 4 }, (_, j) => item(k * 4 + j, { batch: "x".repeat(100) }));
    head = (await log.append("s", batch, { expectedRevision: head })).head;
  }
  const top = head as number;
  assert.ok(readdirSync(dir.path).filter((n) => n.endsWith(".seg")).length >= 2);
  // The new marker cannot be written (here its temp name is taken by a folder; ENOSPC or EIO
  // would do the same): the reclaim gives up and the old generation stays the log.
  mkdirSync(join(dir.path, "SEGMENTS.tmp"));
  const snapshot = { revision: top - 3, version: 1, state: { kept: true } };
  const truncated = log.truncateBefore("s", top - 2, snapshot);
  const appended = log.append("s", [item(top + 1)], { expectedRevision: top });
  const outcome = await Promise.race([
    truncated.then(() => "resolved", (e) => `rejected ${codeOf(e)}`),
    new Promise((r) => setTimeout(() => r("still pending after 5 s"), 5000)),
  ]);
  assert.is(outcome, "resolved");
  assert.is((await appended).head, top + 1);
  await log.close();
  const again = await segmentLog(dir.path, { segmentBytes: SEGMENT });
  const info = await again.info("s");
  assert.is(info?.head, top + 1);
  assert.is(info?.first, top - 2);
  assert.equal((await collect(again.read("s"))).map((e) => e.revision), [
    top - 2,
    top - 1,
    top,
    top + 1,
  ]);
  await again.close();
  await dir.remove();
});

test("a backward read goes on across a space reclaim that replaces the files it reads", async () => {
  const dir = await tempDir();
  const log = await segmentLog(dir.path, { segmentBytes: SEGMENT });
  for (let k = 0; k < 5; k++) await log.append("keep", [item(k)], { expectedRevision: "any" });
  for (let k = 0; k < 300; k++) {
    const batch = [item(2 * k, { batch: "x".repeat(100) }), item(2 * k + 1)];
    await log.append("junk", batch, { expectedRevision: "any" });
  }
  const it = log.read("keep", { direction: "backward" })[Symbol.asyncIterator]();
  const seen = [(await it.next()).value!.revision];
  await log.delete("junk"); // dead bytes now outweigh live ones: a reclaim runs
  assert.ok(
    readdirSync(dir.path).every((n) => !n.endsWith(".seg") || n.startsWith("000002-")),
    "the reclaim replaced the first generation",
  );
  for (;;) {
    const r = await it.next();
    if (r.done) break;
    seen.push(r.value.revision);
  }
  assert.equal(seen, [4, 3, 2, 1, 0]);
  await log.close();
  await dir.remove();
});

test.run();
