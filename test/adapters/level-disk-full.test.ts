/**
 * A full disk under a running pipeline, on a small tmpfs and on a loop-mounted ext4 image (as root,
 * like CI): the failing write is CKPT_NO_SPACE (or CKPT_IO), every later write is refused until the
 * store is reopened (even after space is freed), reopening works once space is back, and no
 * acknowledged item is ever lost.
 */
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { levelLog } from "../../adapters/level.ts";
import type { Store } from "../../core/store.ts";
import { open } from "../../mod.ts";
import { type FsKind, withSmallDisk } from "../helpers/mount.ts";

const ITEM = "x".repeat(300);
const codeOf = (e: unknown) => (e as { code?: string }).code;

async function fillUntilRefused(
  store: Store,
  stage: string,
  from: number,
  acked: Set<number>,
): Promise<unknown> {
  const run = await store.stage(stage).begin({ total: 1_000_000 });
  for (let i = from;; i += 32) {
    const batch = Array.from({ length: 32 }, (_, k) => i + k);
    const results = await Promise.allSettled(
      batch.map((n) => run.done(n, { item: `${ITEM}${n}` })),
    );
    results.forEach((r, k) => r.status === "fulfilled" && acked.add(batch[k]!));
    const failed = results.find((r) => r.status === "rejected");
    if (failed) {
      await run.close().catch(() => undefined);
      return (failed as PromiseRejectedResult).reason;
    }
    if (i > 200_000) throw new Error("the disk never filled");
  }
}

async function scenario(kind: FsKind, kib: number) {
  await withSmallDisk(kind, kib, async (dir) => {
    const path = join(dir, "store");
    const filler = join(dir, "filler");
    await writeFile(filler, new Uint8Array(Math.floor((kib * 1024) / 3)));
    const acked = new Set<number>();
    let store = await open({ path, durability: "sync" });
    const err = await fillUntilRefused(store, "fill", 0, acked);
    assert.ok(
      ["CKPT_NO_SPACE", "CKPT_IO"].includes(codeOf(err)!),
      `the failing write is coded: ${codeOf(err)} ${(err as Error).message}`,
    );
    assert.ok(acked.size > 100, `some writes were acknowledged first (${acked.size})`);

    // Space comes back, but this process's store stays refused: LevelDB's log may end in a partial
    // record.
    await rm(filler);
    const more = new Set<number>();
    const again = await fillUntilRefused(store, "fill", 1_000_000, more).catch((e: unknown) => e);
    assert.is(
      more.size,
      0,
      "no write is acknowledged after the failure until the store is reopened",
    );
    assert.ok(
      ["CKPT_NO_SPACE", "CKPT_IO"].includes(codeOf(again)!),
      `refused with a code: ${codeOf(again)}`,
    );
    const other = await store.stage("other").begin().then(() => "begun", (e: unknown) => codeOf(e));
    assert.ok(other !== "begun", "another stage is refused too");
    await store.close().catch(() => undefined);

    // Reopened with space free: every acknowledged item is there, and the pipeline carries on.
    store = await open({ path, durability: "sync" });
    const state = await store.stage("fill").state();
    const missing = [...acked].filter((i) => !store.stage("fill") || !isDoneIn(state, i));
    assert.equal(missing.slice(0, 5), [], `${missing.length} acknowledged items lost`);
    const run = await store.stage("fill").begin({ total: 1_000_000 });
    await Promise.all([0, 1, 2].map((k) => run.done(2_000_000 + k)));
    await store.close();
    store = await open({ path });
    const after = await store.stage("fill").state();
    for (const i of [...acked, 2_000_000, 2_000_001, 2_000_002]) {
      assert.ok(isDoneIn(after, i), `item ${i} done after the second reopen`);
    }
    await store.close();

    // The log on its own: one failed append refuses every later one, on any stream.
    const log = await levelLog(path);
    const big = new Uint8Array(kib * 1024);
    await writeFile(join(dir, "filler"), big).catch(() => undefined);
    let failure: unknown;
    for (let r = 0; r < 100_000 && !failure; r++) {
      await log.append("raw", [
        { type: "item", v: 1, at: r, index: r, outcome: "ok", item: ITEM.repeat(20) } as never,
      ], { expectedRevision: "any" }).catch((e: unknown) => (failure = e));
    }
    assert.ok(failure, "the disk filled");
    await rm(join(dir, "filler"));
    const later = await log.append("elsewhere", [
      { type: "item", v: 1, at: 1, index: 1, outcome: "ok" } as never,
    ], { expectedRevision: "any" }).then(() => "ok", (e: unknown) => codeOf(e));
    assert.is(
      later,
      codeOf(failure),
      "a write to another stream after the failure is refused with the same code",
    );
    await log.close();
  });
}

import { isDone, type StageState } from "../../core/state.ts";
const isDoneIn = (s: StageState, i: number) => isDone(s, i);

test("tmpfs fills mid-run: coded refusal, sticky until reopened, nothing acknowledged lost, recovery once space is back", async () => {
  await scenario("tmpfs", 1024);
});

test("ext4 (loop device) fills mid-run: the same", async () => {
  await scenario("ext4", 4096);
});

test.run();
