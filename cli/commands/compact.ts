/**
 * `ckpt compact` and `ckpt cleanup`: one retention policy (core's store.compact) from flags, and
 * its report.
 */
import { CkptError, ErrorCode } from "../../core/errors.ts";
import type {
  CompactionProgress,
  CompactionReport,
  RetentionPolicy,
} from "../../core/retention.ts";
import type { Store } from "../../core/store.ts";
import { bool, type ParsedArgs, str } from "../args.ts";
import { type Command, JSON_FLAG, STORE_FLAGS } from "../command.ts";
import type { Ctx } from "../context.ts";
import { UsageError } from "../errors.ts";
import { bytes, duration, int, palette, table } from "../format.ts";
import { meter } from "../meter.ts";
import { optional, parseCount, parseDuration } from "../values.ts";

const COMMON = {
  prefix: {
    type: "string",
    value: "<text>",
    description: "only stages whose name starts with this",
  },
  "dry-run": { type: "boolean", description: "show what would go; change nothing" },
  ...JSON_FLAG,
  ...STORE_FLAGS,
} as const;

export const compactCommand: Command = {
  name: "compact",
  summary:
    "fold old events into a base snapshot and remove them (state unchanged; running stages untouched)",
  positionals: [],
  flags: {
    "max-age": {
      type: "string",
      value: "<duration>",
      description: "remove events older than this (30s, 15m, 12h, 7d, 2w)",
    },
    keep: { type: "string", value: "<n>", description: "keep at most n events per stage" },
    "min-keep": {
      type: "string",
      value: "<n>",
      description: "always keep the last n events (default 100)",
    },
    "stage-ttl": {
      type: "string",
      value: "<duration>",
      description: "also remove whole stages finished or idle for longer than this",
    },
    "keep-checkpoints": {
      type: "string",
      value: "<n>",
      description: "keep at most n state checkpoints per stage (default 10; never the latest)",
    },
    "checkpoint-ttl": {
      type: "string",
      value: "<duration>",
      description: "remove state checkpoints older than this (never the latest)",
    },
    ...COMMON,
  },
  details:
    "The current state, the resume point and the run summaries are identical before and after. Stages that are\nrunning or recovering are skipped. Give at least one of --max-age, --keep or --stage-ttl.",
  examples: [
    "ckpt compact --max-age 7d --dry-run",
    "ckpt compact --max-age 7d --keep 100000",
    "ckpt compact --stage-ttl 30d --json",
  ],
  async run(args, ctx) {
    const c = "ckpt compact";
    const dur = (t: string, f: string) => parseDuration(t, f, c);
    const count = (t: string, f: string) => parseCount(t, f, c);
    const policy: RetentionPolicy = {
      ...defined("maxAgeMs", optional(args, "max-age", dur)),
      ...defined("maxEvents", optional(args, "keep", count)),
      ...defined("minEvents", optional(args, "min-keep", count)),
      ...defined("stageTtlMs", optional(args, "stage-ttl", dur)),
      ...defined("keepCheckpoints", optional(args, "keep-checkpoints", count)),
      ...defined("checkpointTtlMs", optional(args, "checkpoint-ttl", dur)),
    };
    if (Object.keys(policy).length === 0) {
      throw new UsageError(
        "say what to remove: --max-age, --keep, --stage-ttl, --keep-checkpoints or --checkpoint-ttl (e.g. --max-age 7d).",
        c,
      );
    }
    return runPolicy(policy, args, ctx);
  },
};

export const cleanupCommand: Command = {
  name: "cleanup",
  summary:
    "remove whole stages finished, failed or idle for more than N days (running stages untouched)",
  positionals: [],
  flags: {
    days: {
      type: "string",
      value: "<n>",
      description: "remove stages not updated for more than n days",
    },
    ...COMMON,
  },
  details:
    "The same as `ckpt compact --stage-ttl <n>d`: stages that are running or recovering are never removed.",
  examples: ["ckpt cleanup --days 30 --dry-run", "ckpt cleanup --days 30"],
  async run(args, ctx) {
    const days = str(args, "days");
    if (days === undefined) {
      throw new UsageError(
        "--days <n> is required: stages idle for more than n days are removed.",
        "ckpt cleanup",
      );
    }
    return runPolicy(
      { stageTtlMs: parseCount(days, "--days", "ckpt cleanup", 1) * 86_400_000 },
      args,
      ctx,
    );
  },
};

function defined<K extends string, V>(key: K, v: V | undefined): { [k in K]?: V } {
  return (v === undefined ? {} : { [key]: v }) as { [k in K]?: V };
}

type Compactable = Store & {
  compact?: (
    p: RetentionPolicy,
    o?: { onProgress?: (p: CompactionProgress) => void },
  ) => Promise<CompactionReport>;
};

async function runPolicy(policy: RetentionPolicy, args: ParsedArgs, ctx: Ctx): Promise<number> {
  const prefix = str(args, "prefix");
  const full: RetentionPolicy = {
    ...policy,
    ...(prefix ? { prefix } : {}),
    ...(bool(args, "dry-run") ? { dryRun: true } : {}),
  };
  const store = (await ctx.store()) as Compactable;
  if (typeof store.compact !== "function") {
    throw new CkptError(
      ErrorCode.UNAVAILABLE,
      `This ckpt build has no store.compact(); compaction is not available for ${ctx.target}.`,
    );
  }
  const m = meter(ctx, "stages");
  let report: CompactionReport;
  try {
    report = await store.compact(full, {
      onProgress: (pr) => {
        if (pr.index === 0) m.grow(pr.of);
        m.label(pr.stage);
        m.tick(pr.index === 0 ? 0 : 1);
      },
    });
  } finally {
    m.done();
  }
  if (bool(args, "json")) {
    await ctx.stdout.write(JSON.stringify(report, null, 2) + "\n");
    return 0;
  }
  await ctx.stdout.write(render(report, palette(ctx.color)));
  return 0;
}

function render(r: CompactionReport, p: ReturnType<typeof palette>): string {
  const would = r.dryRun;
  const verb = (
    a: string,
  ) => (would
    ? {
      compacted: "would compact",
      deleted: "would delete",
      kept: "kept",
      skipped: "skipped",
    }[a] ?? a
    : a);
  const out: string[] = [];
  if (r.stages.length === 0) return "No stages to compact.\n";
  const rows = r.stages.map((s) => [
    s.stage,
    s.action === "deleted"
      ? p.red(verb(s.action))
      : s.action === "compacted"
      ? p.green(verb(s.action))
      : p.dim(verb(s.action)),
    int(s.eventsRemoved),
    s.firstBefore === s.firstAfter ? String(s.firstBefore) : `${s.firstBefore} → ${s.firstAfter}`,
    String(s.head),
    s.reason,
  ]);
  out.push(
    table(["STAGE", "ACTION", "EVENTS REMOVED", "FIRST", "HEAD", "WHY"], rows, {
      right: [2, 4],
      p,
    }),
  );
  const n = (x: number, w: string) => `${int(x)} ${w}${x === 1 ? "" : "s"}`;
  const compacted = r.stagesTouched - r.stagesDeleted;
  if (would) {
    out.push(
      `\nDry run: would compact ${n(compacted, "stage")}, delete ${
        n(r.stagesDeleted, "stage")
      } and remove ${n(r.eventsRemoved, "event")}. Nothing was changed.\n`,
    );
  } else {
    const space = r.bytesReclaimed === null
      ? ""
      : `, reclaimed ${bytes(r.bytesReclaimed)} (${bytes(r.bytesBefore)} → ${
        bytes(r.bytesAfter)
      })` +
        // Removed events leave no free bytes yet when the log frees space in its own time.
        (r.bytesReclaimed <= 0 && r.eventsRemoved > 0
          ? "; the log frees the space later (LevelDB as it merges its tables, a segment log once removed bytes outweigh live ones)"
          : "");
    out.push(
      `\nCompacted ${n(compacted, "stage")}, deleted ${n(r.stagesDeleted, "stage")}, removed ${
        n(r.eventsRemoved, "event")
      }${space} in ${duration(r.durationMs)}.\n`,
    );
  }
  return out.join("");
}
