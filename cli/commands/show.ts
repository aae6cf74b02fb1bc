/**
 * `ckpt show <stage>`: everything about one stage: status and times, counters, resume point, units,
 * errors, fingerprints, cost, metadata, runs.
 */
import type { CheckpointInfo } from "../../core/checkpoints.ts";
import type { History } from "../../core/history.ts";
import { type ProgressFigures, progressOf } from "../../core/progress.ts";
import type { StageState } from "../../core/state.ts";
import { bool } from "../args.ts";
import { type Command, JSON_FLAG, STORE_FLAGS } from "../command.ts";
import {
  ago,
  cost,
  duration,
  etaFor,
  fields,
  int,
  type Palette,
  palette,
  percent,
  progressText,
  rate,
  shortId,
  statusText,
  table,
  time,
} from "../format.ts";
import { existingStage } from "../stages.ts";
import { stageName } from "../values.ts";

const MAX_RUNS = 20;
const MAX_CHANGES = 10;
const MAX_RANGES = 8;
const MAX_CHECKPOINTS = 5;

export const showCommand: Command = {
  name: "show",
  summary: "everything about one stage: times, counters, resume point, units, errors, cost, runs",
  positionals: [{ name: "stage", description: "the stage to show", required: true }],
  flags: { ...JSON_FLAG, ...STORE_FLAGS },
  examples: ["ckpt show fetch", "ckpt show fetch --json | jq .state.resume"],
  async run(args, ctx) {
    const name = stageName(args.positionals[0]!, "ckpt show");
    const store = await ctx.store({ readOnly: true });
    const stage = await existingStage(store, name, ctx.target);
    const [state, history, checkpoints] = [
      await stage.state(),
      await stage.history(),
      await stage.checkpoints({ limit: MAX_CHECKPOINTS }),
    ];
    const progress = progressOf(state, ctx.now(), store.staleAfterMs);
    if (bool(args, "json")) {
      await ctx.stdout.write(
        JSON.stringify({ stage: name, state, progress, history, checkpoints }, null, 2) + "\n",
      );
      return 0;
    }
    await ctx.stdout.write(
      renderState(state, progress, ctx.now(), palette(ctx.color), history) +
        renderCheckpoints(checkpoints, ctx.now(), palette(ctx.color)),
    );
    return 0;
  },
};

/** The text of `show` (also used by `replay --at`, which has a state but no history of its own). */
export function renderState(
  s: StageState,
  pr: ProgressFigures,
  now: number,
  p: Palette,
  history?: History,
): string {
  const when = (at: number | null) => (at === null ? "–" : `${time(at)} (${ago(at, now)})`);
  const c = s.counters;
  const out: string[] = [];
  const head = (t: string) => out.push("\n" + p.bold(t) + "\n");
  out.push(
    `${p.bold(s.stage)}  ${statusText(s.status, p, pr.stale)}  ${
      p.dim(`revision ${s.revision}`)
    }\n`,
  );
  if (pr.stale) {
    out.push(
      p.yellow(
        `  running but silent for ${
          duration(pr.idleMs)
        }: its process is probably gone; the next begin() records a crash and resumes.\n`,
      ),
    );
  }
  out.push(
    fields([["created", when(s.createdAt)], ["started", when(s.startedAt)], [
      "updated",
      when(s.updatedAt),
    ], ["finished", when(s.finishedAt)]]),
  );

  head("Progress");
  out.push(
    fields([
      ["done", progressText(pr)],
      [
        "counters",
        `${int(c.successful)} ok, ${int(c.failed)} failed, ${int(c.skipped)} skipped, ${
          int(c.duplicates)
        } duplicates, ${int(c.reopened)} reopened`,
      ],
      ["success rate", percent(pr.successRate === null ? null : pr.successRate * 100)],
      ["throughput", rate(pr.throughput)],
      ["ETA", etaFor(s.status, pr)],
      ["cost", cost(s.cost)],
      ["runs", int(s.runs)],
    ]),
  );

  head("Resume point");
  const r = s.resume;
  const pairs = r.ranges.length / 2;
  let beyond = 0;
  const shown: string[] = [];
  for (let i = 0; i < r.ranges.length; i += 2) {
    const [a, b] = [r.ranges[i]!, r.ranges[i + 1]!];
    beyond += b - a;
    if (shown.length < MAX_RANGES) shown.push(b - a === 1 ? String(a) : `${a}–${b - 1}`);
  }
  out.push(
    fields([
      ["watermark", `${int(r.watermark)} ${p.dim("(every index below it is done)")}`],
      [
        "beyond it",
        pairs === 0
          ? "nothing"
          : `${int(beyond)} items in ${int(pairs)} ranges: ${shown.join(", ")}${
            pairs > MAX_RANGES ? ", …" : ""
          }`,
      ],
      ["last index", r.lastIndex === null ? "–" : int(r.lastIndex)],
      ["last item", r.lastItem ?? "–"],
      ["batch", r.batch ?? "–"],
    ]),
  );

  const units = Object.entries(s.units);
  if (units.length) {
    head(`Units (${units.length})`);
    const rows = units.sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, u]) => [
      k,
      u.status === "complete"
        ? p.green(u.status)
        : u.status === "failed"
        ? p.red(u.status)
        : u.status,
      u.page === null ? "–" : int(u.page),
      int(u.records),
      u.error ? `${u.error}${u.retryable ? " (retryable)" : ""}` : "",
    ]);
    out.push(
      indent(table(["KEY", "STATUS", "PAGE", "RECORDS", "ERROR"], rows, { right: [2, 3], p })),
    );
  }

  head("Errors");
  const e = s.errors;
  out.push(
    e.count === 0 ? "  none\n" : fields([["count", int(e.count)], [
      "last",
      `${JSON.stringify(e.lastMessage)}${e.retryable ? " (retryable)" : ""}`,
    ], ["at", when(e.lastAt)]]),
  );

  head("Input and config");
  out.push(fields([["input sha256", s.input ?? "–"], ["config sha256", s.config ?? "–"]]));
  if (Object.keys(s.metadata).length) {
    head("Metadata");
    out.push(indent(JSON.stringify(s.metadata, null, 2) + "\n"));
  }
  if (s.run) {
    // The state keeps the last run after it ends; call it what it is.
    head(
      s.status === "running" || s.status === "recovering" || s.status === "paused"
        ? "Current run"
        : "Last run",
    );
    const o = s.run.owner;
    out.push(
      fields([
        ["id", s.run.id],
        ["owner", o ? `pid ${o.pid} on ${o.host}` : "–"],
        ["started", when(s.run.startedAt)],
        ...(s.run.leaseMs ? ([["lease", duration(s.run.leaseMs)]] as [string, string][]) : []),
      ]),
    );
  }
  if (history) out.push(renderHistory(history, p));
  return out.join("");
}

function renderHistory(h: History, p: Palette): string {
  const out: string[] = [];
  if (h.runs.length) {
    out.push("\n" + p.bold(`Runs (${h.runs.length})`) + "\n");
    const runs = h.runs.slice(-MAX_RUNS);
    const first = h.runs.length - runs.length;
    const rows = runs.map((r, i) => [
      String(first + i + 1),
      shortId(r.runId),
      time(r.startedAt),
      r.endedAt === null ? "–" : duration(r.endedAt - r.startedAt),
      outcome(r.outcome, p) + (r.recovered ? p.dim(" (recovered)") : ""),
      int(r.processed),
      int(r.successful),
      int(r.failed),
      int(r.skipped),
      cost(r.cost),
      `${r.fromRevision}–${r.toRevision}`,
    ]);
    if (first > 0) out.push(p.dim(`  ${first} earlier runs not shown (\`--json\` has them all)\n`));
    out.push(
      indent(
        table(
          [
            "#",
            "RUN",
            "STARTED",
            "TOOK",
            "OUTCOME",
            "DONE",
            "OK",
            "FAILED",
            "SKIPPED",
            "COST",
            "REVISIONS",
          ],
          rows,
          { right: [0, 5, 6, 7, 8, 9], p },
        ),
      ),
    );
  }
  if (h.statusChanges.length) {
    const changes = h.statusChanges.slice(-MAX_CHANGES);
    out.push(
      "\n" + p.bold(`Status changes (last ${changes.length} of ${h.statusChanges.length})`) + "\n",
    );
    for (const c of changes) {
      out.push(
        `  ${time(c.at)}  ${p.dim(`rev ${c.revision}`)}  ${c.from} → ${c.to}  ${p.dim(c.event)}${
          c.reason ? `  ${c.reason}` : ""
        }\n`,
      );
    }
  }
  if (h.compactedEvents) {
    out.push(
      p.dim(
        `\n  ${
          int(h.compactedEvents)
        } older events were compacted; their runs are summarised above.\n`,
      ),
    );
  }
  return out.join("");
}

/**
 * The newest state checkpoints (`run.checkpoint()`), newest first; nothing when the stage has none.
 */
function renderCheckpoints(cps: CheckpointInfo[], now: number, p: Palette): string {
  if (cps.length === 0) return "";
  const rows = cps.map((
    c,
  ) => [
    String(c.revision),
    c.step === null ? "–" : int(c.step),
    `${time(c.at)} (${ago(c.at, now)})`,
    int(c.bytes),
    Object.keys(c.metadata).length ? JSON.stringify(c.metadata) : "",
  ]);
  return "\n" +
    p.bold(`State checkpoints (newest ${cps.length}; the latest is what stage.latest() loads)`) +
    "\n" +
    indent(
      table(["REVISION", "STEP", "SAVED", "BYTES", "METADATA"], rows, { right: [0, 1, 3], p }),
    );
}

function outcome(o: string, p: Palette): string {
  return o === "completed"
    ? p.green(o)
    : o === "failed" || o === "crashed"
    ? p.red(o)
    : o === "paused" || o === "reset"
    ? p.yellow(o)
    : o;
}

function indent(text: string): string {
  return text.replace(/^(?=.)/gm, "  ");
}
