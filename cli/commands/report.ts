/**
 * `ckpt report`: the whole pipeline at a glance: per-stage figures, overall totals, and what needs
 * attention.
 */
import type { StageSummary } from "../../core/store.ts";
import { bool, str } from "../args.ts";
import { type Command, JSON_FLAG, PREFIX_FLAG, STORE_FLAGS } from "../command.ts";
import {
  ago,
  cost,
  duration,
  eta,
  etaFor,
  fields,
  int,
  palette,
  percent,
  progressText,
  rate,
  statusText,
  table,
  time,
} from "../format.ts";
import { summaryJson } from "./list.ts";

export interface Overall {
  stages: number;
  byStatus: Record<string, number>;
  done: number;
  /** Sum of the totals of stages that have one. */
  total: number;
  /** Items done in the stages that have a total (what `percent` is of). */
  doneOfTotal: number;
  stagesWithoutTotal: number;
  percent: number | null;
  successful: number;
  failed: number;
  skipped: number;
  successRate: number | null;
  errors: number;
  cost: number;
  /** The longest ETA among running stages: when the pipeline should be through. */
  etaSeconds: number | null;
}

export function overall(stages: readonly StageSummary[]): Overall {
  const byStatus: Record<string, number> = {};
  let done = 0, total = 0, without = 0, ok = 0, failed = 0, skipped = 0, errors = 0, c = 0;
  let etaSeconds: number | null = null;
  for (const s of stages) {
    byStatus[s.status] = (byStatus[s.status] ?? 0) + 1;
    done += s.progress.done;
    if (s.state.total === null) without++;
    else total += s.state.total;
    ok += s.state.counters.successful;
    failed += s.state.counters.failed;
    skipped += s.state.counters.skipped;
    errors += s.state.errors.count;
    c += s.state.cost;
    if (
      (s.status === "running" || s.status === "recovering") && !s.progress.stale &&
      s.progress.etaSeconds !== null
    ) etaSeconds = Math.max(etaSeconds ?? 0, s.progress.etaSeconds);
  }
  const counted = stages.filter((s) => s.state.total !== null).reduce(
    (a, s) => a + s.progress.done,
    0,
  );
  return {
    stages: stages.length,
    byStatus,
    done,
    total,
    doneOfTotal: counted,
    stagesWithoutTotal: without,
    percent: total > 0 ? Math.min(100, (counted / total) * 100) : null,
    successful: ok,
    failed,
    skipped,
    successRate: ok + failed > 0 ? ok / (ok + failed) : null,
    errors,
    cost: c,
    etaSeconds,
  };
}

/** One line per thing a human should look at: stale runs, failures, errors, recovery. */
export function attention(stages: readonly StageSummary[], now: number): string[] {
  const out: string[] = [];
  for (const s of stages) {
    const c = s.state.counters;
    const e = s.state.errors;
    const plural = (n: number, w: string) => `${int(n)} ${w}${n === 1 ? "" : "s"}`;
    if (s.progress.stale) {
      out.push(
        `${s.stage} is stale: ${s.status} but silent for ${
          duration(s.progress.idleMs)
        }; its process is probably gone (the next begin() resumes it).`,
      );
    } else if (s.status === "recovering") out.push(`${s.stage} is recovering from a crash.`);
    if (s.status === "failed") {
      out.push(
        `${s.stage} failed: ${
          JSON.stringify(e.lastMessage)
        }; \`ckpt show ${s.stage}\` has the details.`,
      );
      continue;
    }
    const parts = [
      ...(c.failed > 0 ? [`${plural(c.failed, "failed item")} (done: not retried on resume)`] : []),
      ...(e.count > 0
        ? [
          `${plural(e.count, "error")}, the last ${JSON.stringify(e.lastMessage)} ${
            ago(e.lastAt, now)
          }`,
        ]
        : []),
    ];
    if (parts.length) out.push(`${s.stage}: ${parts.join("; ")}.`);
  }
  return out;
}

export const reportCommand: Command = {
  name: "report",
  summary: "the whole-pipeline progress report: per stage, overall, and what needs attention",
  positionals: [],
  flags: {
    ...PREFIX_FLAG,
    ...JSON_FLAG,
    ...STORE_FLAGS,
  },
  examples: ["ckpt report", "ckpt report --json > report.json"],
  async run(args, ctx) {
    const prefix = str(args, "prefix");
    const stages = await (await ctx.store({ readOnly: true })).stages(prefix ? { prefix } : {});
    const now = ctx.now();
    const all = overall(stages);
    const notes = attention(stages, now);
    if (bool(args, "json")) {
      await ctx.stdout.write(
        JSON.stringify(
          {
            generatedAt: time(now),
            target: ctx.target,
            stages: stages.map(summaryJson),
            overall: all,
            attention: notes,
          },
          null,
          2,
        ) + "\n",
      );
      return 0;
    }
    const p = palette(ctx.color);
    const out: string[] = [`${p.bold("Pipeline report")}  ${ctx.target}  ${p.dim(time(now))}\n\n`];
    if (stages.length === 0) {
      out.push(`No stages${prefix ? " match" : ""} yet.\n`);
      await ctx.stdout.write(out.join(""));
      return 0;
    }
    const rows = stages.map((s) => [
      s.stage,
      statusText(s.status, p, s.progress.stale),
      progressText(s.progress),
      int(s.state.counters.successful),
      int(s.state.counters.failed),
      int(s.state.counters.skipped),
      int(s.state.errors.count),
      cost(s.state.cost),
      int(s.state.runs),
      rate(s.progress.throughput),
      etaFor(s.status, s.progress),
    ]);
    out.push(
      table(
        [
          "STAGE",
          "STATUS",
          "DONE",
          "OK",
          "FAILED",
          "SKIPPED",
          "ERRORS",
          "COST",
          "RUNS",
          "RATE",
          "ETA",
        ],
        rows,
        { right: [2, 3, 4, 5, 6, 7, 8, 9], p },
      ),
    );
    const statuses = Object.entries(all.byStatus).map(([k, n]) => `${n} ${k}`).join(", ");
    const items = all.total > 0
      ? `${int(all.doneOfTotal)}/${int(all.total)} (${percent(all.percent)})`
      : int(all.done);
    const extra = all.done - all.doneOfTotal;
    out.push("\n" + p.bold("Overall") + "\n");
    out.push(
      fields([
        ["stages", `${all.stages} (${statuses})`],
        [
          "items",
          `${items}${
            all.stagesWithoutTotal && all.total > 0
              ? p.dim(
                ` · ${int(extra)} more in ${all.stagesWithoutTotal} stage${
                  all.stagesWithoutTotal === 1 ? "" : "s"
                } without a total`,
              )
              : ""
          }`,
        ],
        [
          "outcomes",
          `${int(all.successful)} ok, ${int(all.failed)} failed, ${int(all.skipped)} skipped`,
        ],
        ["success rate", percent(all.successRate === null ? null : all.successRate * 100)],
        ["errors", int(all.errors)],
        ["cost", cost(all.cost)],
        [
          "ETA",
          all.etaSeconds === null
            ? (stages.every((s) => s.status === "completed") ? "done" : "–")
            : eta(all.etaSeconds),
        ],
      ]),
    );
    if (notes.length) {
      out.push("\n" + p.bold("Needs attention") + "\n");
      for (const n of notes) out.push(`  ${p.yellow("!")} ${n}\n`);
    }
    await ctx.stdout.write(out.join(""));
    return 0;
  },
};
