/**
 * The corruption matrix: one fixed store (tables, a write-ahead log, MANIFEST, CURRENT, the
 * ledger), and for each file every kind of damage (a flipped byte, an overwritten run, a zeroed
 * run, truncated to half, the tail cut, deleted). Each variant must end intact, refused with a ckpt
 * code, or detected by `ckpt verify` — never silently wrong; no uncoded error anywhere; the
 * read-only commands leave every file byte-identical; and `verify --repair` leaves a store that
 * opens, whose stages are either as written or reported lost.
 */
import { createHash } from "node:crypto";
import {
  cpSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { levelLog } from "../../adapters/level.ts";
import { isCkptError } from "../../core/errors.ts";
import { Store } from "../../core/store.ts";
import { open } from "../../mod.ts";
import { runCli } from "../../cli/run.ts";
import { cli, fakeIo, tempDir } from "../cli/helpers.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { eventually } from "../server/helpers.ts";

const STAGES = ["alpha", "beta", "gamma", "delta"];

/**
 * alpha and beta end up in tables (written, then the store reopened), gamma and delta in the
 * write-ahead log.
 */
async function build(path: string): Promise<Record<string, string>> {
  let store = await open({ path });
  let run = await store.stage("alpha").begin({ total: 3000 });
  for (let i = 0; i < 3000; i++) run.mark(i);
  await run.complete();
  run = await store.stage("beta").begin({ total: 1000 });
  for (let i = 0; i < 600; i++) run.mark(i, { item: `https://example.com/${i}` });
  await run.pause("rate limited");
  await store.close();
  store = await open({ path });
  run = await store.stage("gamma").begin({ total: 500 });
  for (let i = 0; i < 400; i++) await run.done(i);
  await run.close();
  run = await store.stage("delta").begin({ total: 300 });
  for (let i = 0; i < 300; i++) run.mark(i, { cost: 0.5 });
  await run.pause("night");
  const truth: Record<string, string> = {};
  for (const s of STAGES) truth[s] = JSON.stringify(await store.stage(s).state());
  await store.close();
  return truth;
}

type Damage = (file: string) => void;
const at = (file: string, frac: number) =>
  Math.min(statSync(file).size - 1, Math.floor(statSync(file).size * frac));
const DAMAGE: Record<string, Damage> = {
  "flip@10%": (f) => flip(f, at(f, 0.1)),
  "flip@50%": (f) => flip(f, at(f, 0.5)),
  "flip@last": (f) => flip(f, statSync(f).size - 1),
  "overwrite@30%": (f) =>
    patch(f, at(f, 0.3), (n) => Uint8Array.from({ length: n }, (_, i) => (i * 131 + 7) & 0xff), 64),
  "zero@60%": (f) => patch(f, at(f, 0.6), (n) => new Uint8Array(n), 512),
  "truncate-half": (f) => truncateSync(f, Math.floor(statSync(f).size / 2)),
  "cut-tail": (f) => truncateSync(f, Math.max(0, statSync(f).size - 100)),
  "delete": (f) => rmSync(f),
};
function flip(f: string, pos: number) {
  const b = readFileSync(f);
  b[pos] = b[pos]! ^ 0x10;
  writeFileSync(f, b);
}
function patch(f: string, pos: number, bytes: (n: number) => Uint8Array, n: number) {
  const b = readFileSync(f);
  b.set(bytes(Math.min(n, b.length - pos)), pos);
  writeFileSync(f, b);
}

/** Every file under `dir` with its SHA-256: the read-only commands must not change one. */
function fingerprint(dir: string): string {
  const walk = (d: string): string[] =>
    readdirSync(d).sort().flatMap((n) => {
      const p = join(d, n);
      return statSync(p).isDirectory()
        ? walk(p)
        : [`${p.slice(dir.length)} ${createHash("sha256").update(readFileSync(p)).digest("hex")}`];
    });
  return walk(dir).join("\n");
}

const READ_ONLY = (path: string): string[][] =>
  [
    ["list", "--json"],
    ["show", "beta", "--json"],
    ["replay", "gamma", "--json"],
    ["report", "--json"],
    ["export", "alpha"],
    ["verify", "--json"],
  ].map((a) => [...a, "--store", path]);

let fixture: string;
let truth: Record<string, string>;
let files: Record<string, string>;
const tmp = await tempDir();

test.before(async () => {
  fixture = join(tmp.path, "fixture");
  truth = await build(fixture);
  const names = readdirSync(fixture);
  const largest = (re: RegExp) =>
    names.filter((n) => re.test(n)).sort((a, b) =>
      statSync(join(fixture, b)).size - statSync(join(fixture, a)).size
    )[0];
  files = {
    table: largest(/\.ldb$/)!,
    log: largest(/\.log$/)!,
    MANIFEST: largest(/^MANIFEST-/)!,
    CURRENT: "CURRENT",
  };
  for (const [k, v] of Object.entries(files)) {
    assert.ok(v && statSync(join(fixture, v)).size > 0, `the fixture has a non-empty ${k}: ${v}`);
  }
});

test.after(() => tmp.remove());

test("the fixture itself: intact, verify passes, read-only commands (watch too) leave it byte-identical", async () => {
  const before = fingerprint(fixture);
  for (const argv of READ_ONLY(fixture)) {
    const r = await cli(argv);
    assert.is(r.code, 0, `${argv.join(" ")}: ${r.err}`);
  }
  // watch on a driven clock: five polls (each reopening the folder) without ending, then Ctrl+C.
  const clock = manualClock();
  const c = fakeIo({ clock, now: () => Date.now() });
  let ended = false;
  const watch = runCli(["watch", "--json", "--interval", "10ms", "--store", fixture], c.io).finally(
    () => (ended = true),
  );
  for (let poll = 0; poll < 5; poll++) {
    assert.ok(
      await eventually(() => ended || clock.pending() > 0),
      "watch waits for its next poll",
    );
    assert.not.ok(ended, `watch keeps watching: ${c.err()}`);
    clock.advance(10);
  }
  c.abort();
  assert.is(await watch, 0);
  assert.is(fingerprint(fixture), before, "nothing in the store changed");
});

const outcomes: Record<string, number> = { intact: 0, refused: 0, detected: 0 };

for (const [kind, _] of Object.entries({ table: 0, log: 0, MANIFEST: 0, CURRENT: 0 })) {
  for (const [how, damage] of Object.entries(DAMAGE)) {
    test(`${kind} ${how}: intact, refused with a code, or detected — never silently wrong`, async () => {
      const dir = join(tmp.path, `${kind}-${how}`);
      cpSync(fixture, dir, { recursive: true });
      damage(join(dir, files[kind]!));
      const before = fingerprint(dir);
      let verifyFailed = false;
      for (const argv of READ_ONLY(dir)) {
        const r = await cli(argv);
        assert.not.match(r.err, "unexpected", `${argv[0]}: an uncoded error: ${r.err}`);
        if (argv[0] === "verify") {
          verifyFailed = r.code !== 0;
          // verify reports problems as verdicts (exit 1, "ok": false), or a coded error when the
          // store will not open.
          if (r.code !== 0 && !r.err) assert.is(JSON.parse(r.out).ok, false);
          else if (r.code !== 0) {
            assert.match(r.err, /error CKPT_[A-Z_]+:/, "verify failed with a code");
          }
        } else if (r.code !== 0) {
          assert.match(r.err, /error CKPT_[A-Z_]+:/, `${argv[0]} failed with a code`);
        }
      }
      assert.is(fingerprint(dir), before, "the read-only commands left every file byte-identical");

      let outcome: string;
      try {
        const store = new Store(await levelLog(dir), {});
        try {
          const wrong: string[] = [];
          for (const s of STAGES) {
            const state = await store.stage(s).state().then(
              (x) => JSON.stringify(x),
              (e: unknown) => (isCkptError(e) ? `refused ${e.code}` : Promise.reject(e)),
            );
            if (state !== truth[s]) wrong.push(s);
          }
          outcome = wrong.length === 0 && !verifyFailed ? "intact" : "detected";
          if (wrong.length) {
            assert.ok(
              verifyFailed,
              `silently wrong: ${wrong.join(", ")} differ and ckpt verify passed`,
            );
          }
        } finally {
          await store.close();
        }
      } catch (err) {
        if (!isCkptError(err)) throw err;
        outcome = "refused";
      }
      outcomes[outcome]!++;

      // Repair: the store opens afterwards, and every stage is as written or reported lost.
      const rep = await cli(["verify", "--repair", "--json", "--store", dir]);
      assert.not.match(rep.err, "unexpected", rep.err);
      if (rep.err) {
        assert.match(rep.err, /error CKPT_[A-Z_]+:/);
        return;
      }
      const report = JSON.parse(rep.out).repair as {
        stages: { stage: string; lost: unknown; historyLost: unknown }[];
      };
      const lostSummary = report.stages.filter((x) =>
        x.lost || x.historyLost
      ).map((x) =>
        `${x.stage} ${JSON.stringify(x.lost)}${
          x.historyLost ? ` (history ${JSON.stringify(x.historyLost)})` : ""
        }`
      ).join(", ") || "nothing";
      console.log(`  ${kind} ${how}: ${outcome}; repair lost ${lostSummary}`);
      const store = new Store(await levelLog(dir), {});
      try {
        for (const s of STAGES) {
          const state = JSON.stringify(await store.stage(s).state());
          const lost = report.stages.find((x) => x.stage === s)?.lost ?? null;
          if (state !== truth[s]) {
            assert.ok(
              lost,
              `after repair ${s} differs from what was written and the repair did not say it lost anything`,
            );
          }
        }
      } finally {
        await store.close();
      }
    });
  }
}

test("outcomes", () => {
  console.log(`corruption matrix: ${JSON.stringify(outcomes)}`);
});

test.run();
