/**
 * The preallocated-log experiment on a full disk, as level-disk-full.test.ts does for LevelDB
 * (small tmpfs and loop-mounted ext4, as root): appends into a zero-filled segment cannot run out
 * of space, so the disk fills when the next segment is prepared; that append is CKPT_NO_SPACE (or
 * CKPT_IO), every later write is refused until the log is reopened, and no acknowledged item is
 * lost.
 */
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { segmentLog } from "../../adapters/segments.ts";
import { isDone } from "../../core/state.ts";
import type { Store } from "../../core/store.ts";
import { open } from "../../mod.ts";
import { type FsKind, withSmallDisk } from "../helpers/mount.ts";

const ITEM = "x".repeat(300);
const SEGMENT = 64 << 10;
const codeOf = (e: unknown) => (e as { code?: string }).code;
const coded = (e: unknown) => ["CKPT_NO_SPACE", "CKPT_IO"].includes(codeOf(e)!);
const openAt = async (path: string) =>
  open({ log: await segmentLog(path, { segmentBytes: SEGMENT }) });

async function fillUntilRefused(
  store: Store,
  from: number,
  acked: Set<number>,
): Promise<unknown> {
  const run = await store.stage("fill").begin({ total: 1_000_000 });
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
    let store = await openAt(path);
    const err = await fillUntilRefused(store, 0, acked);
    assert.ok(coded(err), `the failing write is coded: ${codeOf(err)} ${(err as Error).message}`);
    assert.ok(acked.size > 100, `some writes were acknowledged first (${acked.size})`);

    await rm(filler);
    const more = new Set<number>();
    const again = await fillUntilRefused(store, 1_000_000, more).catch((e: unknown) => e);
    assert.is(more.size, 0, "no write is acknowledged after the failure until the log is reopened");
    assert.ok(coded(again), `refused with a code: ${codeOf(again)}`);
    const other = await store.stage("other").begin().then(() => "begun", (e: unknown) => codeOf(e));
    assert.ok(other !== "begun", "another stage is refused too");
    await store.close().catch(() => undefined);

    // Reopened with space free: every acknowledged item is there, and the pipeline carries on.
    store = await openAt(path);
    const state = await store.stage("fill").state();
    const missing = [...acked].filter((i) => !isDone(state, i));
    assert.equal(missing.slice(0, 5), [], `${missing.length} acknowledged items lost`);
    const run = await store.stage("fill").begin({ total: 1_000_000 });
    await Promise.all([0, 1, 2].map((k) => run.done(2_000_000 + k)));
    await store.close();
    store = await openAt(path);
    const after = await store.stage("fill").state();
    for (const i of [...acked, 2_000_000, 2_000_001, 2_000_002]) {
      assert.ok(isDone(after, i), `item ${i} done after the second reopen`);
    }
    await store.close();
  });
}

test("tmpfs fills mid-run: coded refusal, sticky until reopened, nothing acknowledged lost", async () => {
  await scenario("tmpfs", 1024);
});

test("ext4 (loop device) fills mid-run: the same", async () => {
  await scenario("ext4", 4096);
});

test.run();
