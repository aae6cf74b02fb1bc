/**
 * The damage defects of issue 14, each reproduced the way a user met it (public API and CLI only):
 * a lost CURRENT must not let a read-only command destroy the store, a flipped byte in the log must
 * not roll a stage back silently, and a damaged table must never surface an uncoded error.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { open } from "../../mod.ts";
import { cli, tempDir } from "../cli/helpers.ts";

const STAGES = ["s0", "s1", "s2", "s3"];

/**
 * Four stages of 300 items each; s0–s2 end up in a table, s3 (paused at revision 301, 300 done) in
 * the log.
 */
async function build(path: string): Promise<void> {
  let store = await open({ path });
  for (const s of STAGES.slice(0, 3)) {
    const run = await store.stage(s).begin({ total: 300 });
    for (let i = 0; i < 300; i++) run.mark(i, { item: `https://example.com/${s}/${i}` });
    await run.complete();
  }
  await store.close();
  store = await open({ path });
  const run = await store.stage("s3").begin({ total: 300 });
  for (let i = 0; i < 300; i++) await run.done(i);
  await run.pause("night");
  await store.close();
}

const fingerprint = (dir: string) =>
  readdirSync(dir)
    .sort()
    .map((n) =>
      `${n} ${
        statSync(join(dir, n)).isDirectory()
          ? "dir"
          : createHash("sha256").update(readFileSync(join(dir, n))).digest("hex")
      }`
    )
    .join("\n");

const tmp = await tempDir();
test.after(() => tmp.remove());

test("defect 2: with CURRENT deleted, `ckpt list` refuses (CKPT_CORRUPT) and leaves every file as it was; --repair brings all stages back", async () => {
  const path = join(tmp.path, "no-current");
  await build(path);
  rmSync(join(path, "CURRENT"));
  const before = fingerprint(path);
  const list = await cli(["list", "--store", path]);
  assert.is(list.code, 1, `list must not succeed on a store without CURRENT: ${list.out}`);
  assert.match(list.err, "error CKPT_CORRUPT");
  assert.is(fingerprint(path), before, "no file written, none deleted");
  let opened: unknown;
  await open({ path }).then((s) => s.close(), (e: unknown) => (opened = e));
  assert.is(
    (opened as { code?: string })?.code,
    "CKPT_CORRUPT",
    "the library refuses too: no new database over the old one",
  );
  assert.is(fingerprint(path), before);
  const repair = await cli(["verify", "--repair", "--store", path]);
  assert.is(repair.code, 0, repair.out + repair.err);
  const store = await open({ path });
  try {
    for (const s of STAGES) {
      assert.is((await store.stage(s).state()).counters.processed, 300, `${s} is back whole`);
    }
  } finally {
    await store.close();
  }
});

test("defect 3: one flipped byte in the log is refused with CKPT_CORRUPT naming the stage and revision, and the log is kept", async () => {
  const path = join(tmp.path, "flipped-log");
  await build(path);
  const log = readdirSync(path).find((n) => n.endsWith(".log"))!;
  const bytes = readFileSync(join(path, log));
  bytes[Math.floor(bytes.length * 0.6)]! ^= 0x01;
  writeFileSync(join(path, log), bytes);
  const before = fingerprint(path);
  let err: { code?: string; details?: { stage?: string; revision?: number } } | undefined;
  await open({ path }).then(
    async (s) => {
      const st = await s.stage("s3").state();
      await s.close();
      assert.unreachable(
        `opened silently: s3 is ${st.status} at revision ${st.revision} with ${st.counters.processed} done`,
      );
    },
    (e: unknown) => (err = e as typeof err),
  );
  assert.is(err?.code, "CKPT_CORRUPT");
  assert.is(err?.details?.stage, "s3");
  assert.type(err?.details?.revision, "number");
  assert.is(fingerprint(path), before, "the damaged log is still there, byte for byte");
  const verify = await cli(["verify", "--store", path]);
  assert.is(verify.code, 1, "ckpt verify does not pass it");
  assert.ok(existsSync(join(path, log)));
});

test("defect 4: damaged tables never surface an uncoded error (list, show, verify)", async () => {
  const fixture = join(tmp.path, "tables");
  await build(fixture);
  const table = readdirSync(fixture).filter((n) => n.endsWith(".ldb")).sort((a, b) =>
    statSync(join(fixture, b)).size - statSync(join(fixture, a)).size
  )[0]!;
  const size = statSync(join(fixture, table)).size;
  for (let k = 1; k <= 12; k++) {
    const dir = join(tmp.path, `table-${k}`);
    rmSync(dir, { recursive: true, force: true });
    await import("node:fs").then((fs) => fs.cpSync(fixture, dir, { recursive: true }));
    const bytes = readFileSync(join(dir, table));
    const at = Math.floor((size * k) / 13);
    bytes[at]! ^= 0xff;
    writeFileSync(join(dir, table), bytes);
    for (const argv of [["list"], ["show", "s1"], ["verify"]]) {
      const r = await cli([...argv, "--store", dir]);
      assert.not.match(r.err, "unexpected", `flip at ${at}, ckpt ${argv[0]}: ${r.err}`);
      if (r.code !== 0 && r.err) assert.match(r.err, /^error CKPT_[A-Z_]+: /);
    }
  }
});

test("verify --repair refuses a store a pipeline holds (CKPT_LOCKED) and leaves its files alone", async () => {
  const path = join(tmp.path, "held");
  await build(path);
  const held = await open({ path });
  try {
    const before = fingerprint(path);
    const r = await cli(["verify", "--repair", "--store", path]);
    assert.is(r.code, 1);
    assert.match(r.err, "error CKPT_LOCKED");
    assert.is(
      fingerprint(path).replace(/LOG[^\n]*\n/g, ""),
      before.replace(/LOG[^\n]*\n/g, ""),
      "no store file changed (LevelDB's info LOG aside)",
    );
    assert.ok(!readdirSync(path).some((n) => n.startsWith("damaged-")), "no copy taken either");
  } finally {
    await held.close();
  }
});

test.run();
