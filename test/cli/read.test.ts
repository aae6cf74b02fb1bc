/**
 * Reading commands as pure functions over a real LevelDB store: list, show, report, replay (text
 * and JSON).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseArgs } from "../../cli/args.ts";
import { listCommand } from "../../cli/commands/list.ts";
import type { Ctx } from "../../cli/context.ts";
import { cli, populate, tempDir } from "./helpers.ts";

let dir: { path: string; remove(): Promise<void> };
let store: string;
const run = (...argv: string[]) => cli([...argv, "--store", store]);

test.before(async () => {
  dir = await tempDir();
  store = `${dir.path}/store`;
  await populate(store);
});
test.after(() => dir.remove());

test("list: one row per stage with status, progress, success rate, ETA", async () => {
  const r = await run("list");
  assert.is(r.code, 0);
  assert.is(r.err, "");
  const lines = r.out.trimEnd().split("\n");
  assert.match(lines[0]!, /^STAGE\s+STATUS\s+PROGRESS\s+SUCCESS\s+RATE\s+ETA\s+UPDATED$/);
  assert.is(lines.length, 4);
  assert.match(lines[1]!, /^fetch\s+completed\s+100\/100 \(100\.0%\)\s+97\.0%\s+\S+\/s\s+done\s/);
  assert.match(lines[2]!, /^load\s+failed\s+5\s+100\.0%/);
  assert.match(lines[3]!, /^parse\s+running\s+80\/200 \(40\.0%\)\s+100\.0%/);
  assert.not.match(r.out, /\x1b\[/, "no colour off a TTY");
});

test("list --json, --status and --prefix filters", async () => {
  const r = await run("list", "--json");
  const rows = JSON.parse(r.out) as {
    stage: string;
    status: string;
    done: number;
    total: number | null;
    successRate: number;
    counters: { failed: number };
  }[];
  assert.equal(rows.map((x) => x.stage), ["fetch", "load", "parse"]);
  assert.equal([rows[0]!.done, rows[0]!.total, rows[0]!.counters.failed], [100, 100, 3]);
  assert.is(rows[0]!.successRate, 97 / 100);
  assert.is(rows[1]!.total, null);
  const running = JSON.parse(
    (await run("list", "--json", "--status", "running", "--status", "failed")).out,
  ) as { stage: string }[];
  assert.equal(running.map((x) => x.stage), ["load", "parse"]);
  assert.match((await run("list", "--prefix", "zzz")).out, "No stages match");
});

test("list as a bare command function: (args, ctx) -> exit code, nothing but ctx touched", async () => {
  let out = "";
  const { open } = await import("../../mod.ts");
  const s = await open({ path: store });
  try {
    const ctx = {
      store: async () => s,
      target: store,
      stdout: { write: (t: string) => void (out += t) },
      stderr: { write: () => undefined },
      isTTY: { stdin: false, stdout: true, stderr: false },
      color: true,
      columns: 80,
      env: {},
      now: () => Date.now(),
    } as unknown as Ctx;
    const code = await listCommand.run(
      parseArgs(["--status", "completed"], listCommand.flags, listCommand.positionals, "ckpt list"),
      ctx,
    );
    assert.is(code, 0);
    assert.match(out, "\x1b[32mcompleted\x1b[39m", "colour when the context says so");
    assert.not.match(out, "parse");
  } finally {
    await s.close();
  }
});

test("colour only on a TTY and never with NO_COLOR or --no-color", async () => {
  const tty = await cli(["list", "--store", store], { tty: true });
  assert.match(tty.out, "\x1b[");
  const noColor = await cli(["list", "--store", store], { tty: true, env: { NO_COLOR: "1" } });
  assert.not.match(noColor.out, "\x1b[");
  const flag = await cli(["list", "--store", store, "--no-color"], { tty: true });
  assert.not.match(flag.out, "\x1b[");
});

test("show: status, counters, resume point, units, errors, fingerprints, cost, metadata, runs", async () => {
  const f = await run("show", "fetch");
  assert.is(f.code, 0);
  assert.match(f.out, /^fetch  completed  revision 103/);
  assert.match(f.out, "counters:     97 ok, 3 failed, 0 skipped");
  assert.match(f.out, /watermark:\s+100/);
  assert.match(f.out, "last item:  https://example.com/p/99");
  assert.match(f.out, /config sha256: [0-9a-f]{64}/);
  assert.match(f.out, /cost:\s+1\n/);
  assert.match(f.out, '"pages": 100');
  assert.match(f.out, "Runs (2)");
  assert.match(f.out, /1  \S+  \S+\s+\S+\s+paused\s+60\s+57\s+3/);
  assert.match(f.out, /completed\s+40\s+40\s+0/);
  assert.match(f.out, "running → paused  paused  rate limited");
  const p = await run("show", "parse");
  assert.match(p.out, /org\/repo:pulls\s+running\s+2\s+60/);
  assert.match(p.out, '"timeout on page 3" (retryable)');
  assert.match(p.out, "Current run");
  assert.match(f.out, "Last run");
});

test("show --json carries state, progress and history", async () => {
  const j = JSON.parse((await run("show", "fetch", "--json")).out);
  assert.is(j.state.counters.processed, 100);
  assert.is(j.state.resume.watermark, 100);
  assert.is(j.progress.percent, 100);
  assert.equal(j.history.runs.map((r: { outcome: string }) => r.outcome), ["paused", "completed"]);
});

test("show of a missing stage: CKPT_NOT_FOUND with a suggestion, exit 1", async () => {
  const r = await run("show", "fecth");
  assert.is(r.code, 1);
  assert.is(r.err, `error CKPT_NOT_FOUND: No stage "fecth" in ${store}. Did you mean "fetch"?\n`);
});

test("report: per-stage table, overall totals, and what needs attention", async () => {
  const r = await run("report");
  assert.is(r.code, 0);
  assert.match(r.out, /^Pipeline report  /);
  assert.match(r.out, /fetch\s+completed\s+100\/100 \(100\.0%\)\s+97\s+3\s+0\s+3\s+1\s+2/);
  assert.match(r.out, "stages:       3 (1 completed, 1 failed, 1 running)");
  assert.match(r.out, "items:        180/300 (60.0%) · 5 more in 1 stage without a total");
  assert.match(r.out, "outcomes:     182 ok, 3 failed, 0 skipped");
  assert.match(r.out, 'load failed: "disk full"');
  assert.match(r.out, "fetch: 3 failed items");
  const j = JSON.parse((await run("report", "--json")).out);
  assert.equal([j.overall.stages, j.overall.done, j.overall.total, j.overall.errors], [
    3,
    185,
    300,
    5,
  ]);
  assert.is(j.stages.length, 3);
  assert.ok(j.attention.length >= 3);
});

test("replay: every event with the progress after it", async () => {
  const r = await run("replay", "fetch");
  assert.is(r.code, 0);
  const lines = r.out.trimEnd().split("\n");
  assert.is(lines.length, 104);
  assert.match(
    lines[0]!,
    /^\s+0  \S+Z  run\.started\s+run \w{8} pid \d+ on \S+ total=100 config=\w{12}…  → running 0\/100 \(0\.0%\)$/,
  );
  assert.match(
    lines[8]!,
    /^\s+8  \S+  item\s+#7 failed https:\/\/example\.com\/p\/7 cost=0\.01 error="HTTP 500"  → running 8\/100 \(8\.0%\)$/,
  );
  assert.match(lines[61]!, /paused\s+rate limited  → paused 60\/100/);
  assert.match(lines[103]!, /completed\s+\{"pages":100\}  → completed 100\/100 \(100\.0%\)$/);
});

test("replay --from/--to by revision and by time, --json as NDJSON", async () => {
  const r = await run("replay", "fetch", "--from", "60", "--to", "62", "--json");
  const rows = r.out.trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.equal(rows.map((x) => [x.revision, x.event.type, x.status, x.done]), [
    [60, "item", "running", 60],
    [61, "paused", "paused", 60],
    [62, "run.started", "running", 60],
  ]);
  const at = new Date(rows[1].event.at).toISOString();
  const byTime = (await run("replay", "fetch", "--from", at, "--json")).out.trimEnd().split("\n")
    .map((l) => JSON.parse(l));
  assert.ok(byTime.every((x) => x.event.at >= rows[1].event.at));
  assert.ok(byTime[0].revision <= 61 && byTime.at(-1).revision === 103);
  const until =
    (await run("replay", "fetch", "--to", new Date(rows[0].event.at).toISOString(), "--json")).out
      .trimEnd().split("\n");
  assert.ok(until.length >= 61 && until.length < 104);
});

test("replay --at: the state as it was at a revision or a time", async () => {
  const r = await run("replay", "fetch", "--at", "30", "--json");
  const j = JSON.parse(r.out);
  assert.is(j.state.revision, 30);
  assert.is(j.state.counters.processed, 30);
  assert.is(j.state.status, "running");
  const text = await run("replay", "fetch", "--at", "61");
  assert.match(text.out, /^fetch  paused  revision 61/);
  assert.match(text.out, "done:         60/100 (60.0%)");
  const before = await run("replay", "fetch", "--at", "2000-01-01T00:00:00Z");
  assert.is(before.code, 1);
  assert.match(
    before.err,
    'error CKPT_NOT_FOUND: Stage "fetch" has no stored events at or before 2000-01-01T00:00:00.000Z',
  );
});

test.run();
