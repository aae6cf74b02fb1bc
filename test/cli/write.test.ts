/**
 * Commands that change a store, as pure functions over real LevelDB: reset, export/import, compact,
 * cleanup.
 */
import { readFile, writeFile } from "node:fs/promises";
import { existsSync, readdirSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { open } from "../../mod.ts";
import { runCli } from "../../cli/run.ts";
import { cli, fakeIo, populate, tempDir } from "./helpers.ts";

let dir: { path: string; remove(): Promise<void> };
let n = 0;
/** A fresh populated store per test, so tests do not depend on each other's writes. */
async function fresh(): Promise<string> {
  const path = `${dir.path}/s${n++}`;
  await populate(path);
  return path;
}
async function stateOf(path: string, stage: string) {
  const store = await open({ path });
  try {
    return (await store.stage(stage).exists()) ? await store.stage(stage).state() : undefined;
  } finally {
    await store.close();
  }
}

test.before(async () => {
  dir = await tempDir();
});
test.after(() => dir.remove());

test("reset off a terminal without --force refuses with exit 2 and changes nothing", async () => {
  const s = await fresh();
  const r = await cli(["reset", "fetch", "--store", s]);
  assert.is(r.code, 2);
  assert.match(r.err, "refusing to reset without --force");
  assert.is((await stateOf(s, "fetch"))!.status, "completed");
});

test("reset on a terminal asks; anything but y keeps the stage (exit 1), y resets it", async () => {
  const s = await fresh();
  const no = await cli(["reset", "fetch", "--store", s], { tty: true, answers: ["n"] });
  assert.is(no.code, 1);
  assert.match(no.err, /About to reset 1 stage[\s\S]*fetch  completed  100\/100/);
  assert.match(no.err, "Aborted; nothing was reset.");
  assert.is((await stateOf(s, "fetch"))!.status, "completed");
  const eof = await cli(["reset", "fetch", "--store", s], { tty: true, answers: [null] });
  assert.is(eof.code, 1);
  const yes = await cli(["reset", "fetch", "--store", s], { tty: true, answers: ["y"] });
  assert.is(yes.code, 0, yes.err);
  assert.match(yes.out, "Reset fetch (was completed, 100/100 (100.0%)); its history is kept.");
  const st = (await stateOf(s, "fetch"))!;
  assert.equal([st.status, st.counters.processed, st.resume.watermark], ["initialized", 0, 0]);
  const last = (await cli(["replay", "fetch", "--from", "104", "--json", "--store", s])).out;
  assert.equal(JSON.parse(last).event, {
    ...JSON.parse(last).event,
    type: "reset",
    reason: "ckpt reset",
  });
});

test("reset --all --force resets every stage; --delete removes one whole", async () => {
  const s = await fresh();
  const all = await cli(["reset", "--all", "--force", "--reason", "new input", "--store", s]);
  assert.is(all.code, 0, all.err);
  assert.is(all.out.trimEnd().split("\n").length, 3);
  for (const st of ["fetch", "load", "parse"]) {
    assert.is((await stateOf(s, st))!.status, "initialized");
  }
  const del = await cli(["reset", "load", "--delete", "--force", "--store", s]);
  assert.is(del.code, 0, del.err);
  assert.is(await stateOf(s, "load"), undefined);
  const missing = await cli(["reset", "nope", "--force", "--store", s]);
  assert.is(missing.code, 1);
  assert.match(missing.err, 'error CKPT_NOT_FOUND: No stage "nope"');
});

test("export writes versioned JSON with events, states and histories; import rebuilds the same states", async () => {
  const s = await fresh();
  const file = `${dir.path}/export.json`;
  const e = await cli(["export", "-o", file, "--store", s]);
  assert.is(e.code, 0, e.err);
  assert.is(e.out, "");
  assert.is(e.err, `Exported 3 stages (191 events) to ${file}.\n`);
  const j = JSON.parse(await readFile(file, "utf8"));
  assert.equal([j.format, j.version, j.reducerVersion], ["ckpt-export", 1, 1]);
  assert.equal(
    j.stages.map((
      x: { stage: string; first: number; head: number; events: unknown[] },
    ) => [x.stage, x.first, x.head, x.events.length]),
    [
      ["fetch", 0, 103, 104],
      ["load", 0, 2, 3],
      ["parse", 0, 83, 84],
    ],
  );
  assert.is(j.stages[0].state.counters.processed, 100);
  assert.is(j.stages[0].history.runs.length, 2);

  const target = `${dir.path}/imported-${n++}`;
  const i = await cli(["import", file, "--store", target]);
  assert.is(i.code, 0, i.err);
  assert.is(i.out, `Imported 3 stages (191 events) from ${file} into ${target}.\n`);
  for (const st of ["fetch", "load", "parse"]) {
    assert.equal(await stateOf(target, st), await stateOf(s, st), st);
  }
  const again = await cli(["import", file, "--store", target]);
  assert.is(again.code, 1);
  assert.match(again.err, 'error CKPT_CONFLICT: Stages "fetch", "load", "parse" already exist');
  assert.is((await cli(["import", file, "--store", target, "--replace"])).code, 0);
  assert.equal(await stateOf(target, "fetch"), await stateOf(s, "fetch"));
});

test("export to stdout and import from stdin; --dry-run writes nothing", async () => {
  const s = await fresh();
  const e = await cli(["export", "fetch", "--store", s]);
  assert.is(e.code, 0);
  assert.is(JSON.parse(e.out).stages.length, 1);
  const target = `${dir.path}/dry-${n++}`;
  const dry = await cli(["import", "-", "--dry-run", "--store", target], { stdin: e.out });
  assert.is(dry.code, 0, dry.err);
  assert.is(
    dry.out,
    "Dry run: stdin holds 1 stage (104 events); the target does not exist yet (it would be created). Nothing was written.\n",
  );
  assert.not.ok(existsSync(target), "a dry run creates nothing");
  const i = await cli(["import", "-", "--store", target], { stdin: e.out });
  assert.is(i.code, 0, i.err);
  assert.match(i.out, "Imported 1 stage (104 events) from stdin");
  const dry2 = await cli(["import", "-", "--dry-run", "--replace", "--store", target], {
    stdin: e.out,
  });
  assert.is(dry2.code, 0);
  assert.match(dry2.out, "1 would be replaced. Nothing was written.");
});

test("long operations draw progress on a TTY's stderr; Ctrl+C stops them with exit 130 and no half-written file", async () => {
  const s = await fresh();
  const file = `${dir.path}/progress-${n++}.json`;
  const shown = await cli(["export", "-o", file, "--store", s], { tty: { stderr: true } });
  assert.is(shown.code, 0, shown.err);
  assert.match(shown.err, /\r\x1b\[2K\S*█*\S*░*\S* \d+\/191 events  fetch/);
  assert.match(
    shown.err,
    /\r\x1b\[2KExported 3 stages/,
    "the progress line is cleared before the summary",
  );
  const quiet = await cli(["verify", "--store", s]);
  assert.not.match(quiet.err, "\r", "no progress off a TTY");

  const c = fakeIo({ tty: { stderr: true } });
  c.abort();
  const stopped = `${dir.path}/stopped-${n++}.json`;
  assert.is(await runCli(["export", "-o", stopped, "--store", s], c.io), 130);
  assert.match(c.err(), "interrupted");
  assert.not.ok(existsSync(stopped));
  assert.equal(readdirSync(dir.path).filter((f) => f.endsWith(".tmp")), []);
});

test("import refuses bad files before writing anything", async () => {
  const s = await fresh();
  const good = JSON.parse((await cli(["export", "fetch", "--store", s])).out);
  const cases: [unknown, RegExp][] = [
    ["{not json", /not JSON/],
    [{ hello: 1 }, /not a ckpt export/],
    [{ ...good, version: 99 }, /newer ckpt \(export format version 99/],
    [{
      ...good,
      stages: [{
        ...good.stages[0],
        events: good.stages[0].events.map((
          e: { index?: number },
          k: number,
        ) => (k === 5 ? { ...e, index: -1 } : e)),
      }],
    }, /event at revision 5: Invalid event/],
    [
      { ...good, stages: [{ ...good.stages[0], events: good.stages[0].events.slice(1) }] },
      /do not replay at revision 0/,
    ],
    [
      { ...good, stages: [{ ...good.stages[0], state: { ...good.stages[0].state, cost: 99 } }] },
      /"state" does not match what its events add up to \(cost: 99 vs 1(\.0+\d*)?\)/,
    ],
    [{ ...good, stages: [{ ...good.stages[0], stage: "../evil" }] }, /Invalid stage name/],
  ];
  for (const [content, re] of cases) {
    const file = `${dir.path}/bad-${n++}.json`;
    await writeFile(file, typeof content === "string" ? content : JSON.stringify(content));
    const target = `${dir.path}/never-${n++}`;
    const r = await cli(["import", file, "--store", target]);
    assert.is(r.code, 1, String(re));
    assert.match(r.err, /^error CKPT_INVALID: /);
    assert.match(r.err, re);
    assert.not.match(r.err, /\n\s+at .*:\d+:\d+/); // issue lines ("  at stages.0: …") are not a stack
    assert.not.ok(existsSync(target), "nothing written");
  }
});

test("compact --dry-run shows what would go and changes nothing; compact keeps the state", async () => {
  const s = await fresh();
  const before = await stateOf(s, "fetch");
  const dry = await cli(["compact", "--keep", "10", "--min-keep", "5", "--dry-run", "--store", s]);
  assert.is(dry.code, 0, dry.err);
  assert.match(dry.out, /fetch\s+would compact\s+94\s+0 → 94\s+103/);
  assert.match(dry.out, /parse\s+skipped\s+0\s+0\s+83\s+running: a live stage is never compacted/);
  assert.match(
    dry.out,
    "Dry run: would compact 1 stage, delete 0 stages and remove 94 events. Nothing was changed.",
  );
  assert.match((await cli(["replay", "fetch", "--to", "0", "--store", s])).out, /^\s+0 /);
  const r = await cli(["compact", "--keep", "10", "--min-keep", "5", "--store", s, "--json"]);
  assert.is(r.code, 0, r.err);
  const report = JSON.parse(r.out);
  assert.equal([report.dryRun, report.stagesTouched, report.eventsRemoved], [false, 1, 94]);
  assert.equal(await stateOf(s, "fetch"), before);
  assert.match((await cli(["replay", "fetch", "--store", s])).out, /^\s+94 /);
  const again = await cli(["export", "fetch", "--store", s]);
  const j = JSON.parse(again.out);
  assert.equal([j.stages[0].first, j.stages[0].events.length, j.stages[0].base.revision], [
    94,
    10,
    93,
  ]);
  // A compacted stage comes back from its export with the same revisions and base snapshot.
  const target = `${dir.path}/from-compacted-${n++}`;
  assert.is((await cli(["import", "-", "--store", target], { stdin: again.out })).code, 0);
  assert.equal(await stateOf(target, "fetch"), before);
  assert.match((await cli(["replay", "fetch", "--store", target])).out, /^\s+94 /);
  assert.is((await cli(["verify", "--store", target])).code, 0);
});

test("cleanup --days removes stages idle for longer, never running ones", async () => {
  const s = await fresh();
  const store = await open({ path: s });
  const old = Date.now() - 40 * 86_400_000;
  await store.log.append("ancient", [
    { type: "run.started", v: 1, at: old, runId: "r-old" },
    { type: "completed", v: 1, at: old + 1000 },
  ], { expectedRevision: "no_stream" });
  await store.close();
  const dry = await cli(["cleanup", "--days", "30", "--dry-run", "--store", s]);
  assert.is(dry.code, 0, dry.err);
  assert.match(dry.out, /ancient\s+would delete/);
  assert.ok(await stateOf(s, "ancient"));
  const r = await cli(["cleanup", "--days", "30", "--store", s]);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /ancient\s+deleted\s+2/);
  assert.match(r.out, "deleted 1 stage");
  assert.is(await stateOf(s, "ancient"), undefined);
  assert.is((await stateOf(s, "fetch"))!.status, "completed");
});

test.run();
