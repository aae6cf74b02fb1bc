/**
 * `ckpt list`: one line per stage with status, progress, success rate, throughput, ETA and last
 * update.
 */
import { Status } from "../../core/state.ts";
import type { StageSummary } from "../../core/store.ts";
import { bool, list as many, str } from "../args.ts";
import { type Command, JSON_FLAG, PREFIX_FLAG, STORE_FLAGS } from "../command.ts";
import { UsageError } from "../errors.ts";
import { ago, etaFor, palette, percent, progressText, rate, statusText, table } from "../format.ts";

const STATUSES = Object.values(Status);

/** The figures scripts want, flat (the full state is in `ckpt show --json`). */
export function summaryJson(s: StageSummary) {
  return {
    stage: s.stage,
    status: s.status,
    stale: s.progress.stale,
    done: s.progress.done,
    total: s.progress.total,
    percent: s.progress.percent,
    successRate: s.progress.successRate,
    throughput: s.progress.throughput,
    etaSeconds: s.progress.etaSeconds,
    counters: s.state.counters,
    errors: s.state.errors.count,
    cost: s.state.cost,
    runs: s.state.runs,
    updatedAt: s.state.updatedAt,
  };
}

export const listCommand: Command = {
  name: "list",
  summary: "every stage: status, progress, success rate, throughput, ETA, last update",
  positionals: [],
  flags: {
    ...PREFIX_FLAG,
    status: {
      type: "string",
      value: "<status>",
      repeat: true,
      description: `only stages in this status (repeatable): ${STATUSES.join(", ")}`,
    },
    ...JSON_FLAG,
    ...STORE_FLAGS,
  },
  examples: [
    "ckpt list",
    "ckpt list --status running --status recovering",
    "ckpt list --json | jq '.[].stage'",
  ],
  async run(args, ctx) {
    const statuses = many(args, "status");
    for (const s of statuses) {
      if (!STATUSES.includes(s as Status)) {
        throw new UsageError(
          `--status expects one of ${STATUSES.join(", ")}; got ${JSON.stringify(s)}.`,
          "ckpt list",
        );
      }
    }
    const prefix = str(args, "prefix");
    const store = await ctx.store({ readOnly: true });
    const stages = await store.stages({
      ...(prefix ? { prefix } : {}),
      ...(statuses.length ? { status: statuses as Status[] } : {}),
    });
    if (bool(args, "json")) {
      await ctx.stdout.write(JSON.stringify(stages.map(summaryJson), null, 2) + "\n");
      return 0;
    }
    if (stages.length === 0) {
      await ctx.stdout.write(
        `No stages${prefix || statuses.length ? " match" : ""} in ${ctx.target}.\n`,
      );
      return 0;
    }
    const p = palette(ctx.color);
    const now = ctx.now();
    const rows = stages.map((s) => [
      s.stage,
      statusText(s.status, p, s.progress.stale),
      progressText(s.progress),
      percent(s.progress.successRate === null ? null : s.progress.successRate * 100),
      rate(s.progress.throughput),
      etaFor(s.status, s.progress),
      ago(s.state.updatedAt, now),
    ]);
    await ctx.stdout.write(
      table(["STAGE", "STATUS", "PROGRESS", "SUCCESS", "RATE", "ETA", "UPDATED"], rows, {
        right: [2, 3, 4],
        p,
      }),
    );
    return 0;
  },
};
