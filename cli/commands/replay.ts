/**
 * `ckpt replay <stage>`: the history event by event with the progress after each; `--at` for a past
 * state, `--follow` for live events.
 */
import { CkptError, ErrorCode } from "../../core/errors.ts";
import { progressOf } from "../../core/progress.ts";
import type { ReplayEntry, ReplayOptions, Stage } from "../../core/stage.ts";
import { cloneState, type StageState } from "../../core/state.ts";
import { bool, str } from "../args.ts";
import { chunked } from "../chunked.ts";
import { type Command, JSON_FLAG, STORE_FLAGS } from "../command.ts";
import type { Ctx } from "../context.ts";
import { describeEvent } from "../describe.ts";
import { UsageError } from "../errors.ts";
import { type Palette, palette, progressText, statusText, time } from "../format.ts";
import { meter } from "../meter.ts";
import { existingStage } from "../stages.ts";
import { optional, parsePoint, type Point, stageName } from "../values.ts";
import { renderState } from "./show.ts";

const CMD = "ckpt replay";

export const replayCommand: Command = {
  name: "replay",
  summary:
    "the history event by event with the progress after each (--at: the state at a past moment)",
  positionals: [{ name: "stage", description: "the stage to replay", required: true }],
  flags: {
    from: {
      type: "string",
      value: "<rev|time>",
      description: "start at this revision, ISO time, or time ago (15m)",
    },
    to: { type: "string", value: "<rev|time>", description: "stop after this revision or time" },
    at: {
      type: "string",
      value: "<rev|time>",
      description: "print the state as it was at this revision or time, instead of the events",
    },
    follow: {
      type: "boolean",
      short: "f",
      description: "after the history, keep printing new events until Ctrl+C",
    },
    ...JSON_FLAG,
    ...STORE_FLAGS,
  },
  details:
    "With --json, prints one JSON object per line (NDJSON): revision, event, and the status, done and total after it.",
  examples: [
    "ckpt replay fetch",
    "ckpt replay fetch --from 2026-11-23T09:00:00Z --to 2026-11-23T10:00:00Z",
    "ckpt replay fetch --from 1h --follow",
    "ckpt replay fetch --at 1500",
    "ckpt replay fetch --json | jq -c 'select(.event.type == \"error\")'",
  ],
  async run(args, ctx) {
    const name = stageName(args.positionals[0]!, CMD);
    const now = ctx.now();
    const point = (t: string, flag: string) => parsePoint(t, flag, CMD, now);
    const at = optional(args, "at", point);
    if (
      at &&
      (str(args, "from") !== undefined || str(args, "to") !== undefined || bool(args, "follow"))
    ) {
      throw new UsageError(
        "--at prints one state; it does not combine with --from, --to or --follow.",
        CMD,
      );
    }
    const from = optional(args, "from", point);
    const to = optional(args, "to", point);
    const stage = await existingStage(await ctx.store({ readOnly: true }), name, ctx.target);
    if (at) return printAt(stage, at, bool(args, "json"), ctx);
    return printEvents(
      stage,
      { ...bound(from, "from"), ...bound(to, "to") },
      bool(args, "json"),
      bool(args, "follow"),
      ctx,
    );
  },
};

function bound(p: Point | undefined, side: "from" | "to"): ReplayOptions {
  if (!p) return {};
  if ("revision" in p) return { [side]: p.revision };
  return side === "from" ? { since: p.at } : { until: p.at };
}

async function printAt(stage: Stage, at: Point, json: boolean, ctx: Ctx): Promise<number> {
  let state: StageState | undefined;
  for await (const e of stage.replay("revision" in at ? { to: at.revision } : { until: at.at })) {
    state = e.state as StageState;
  }
  if (!state) {
    const when = "revision" in at ? `revision ${at.revision}` : time(at.at);
    throw new CkptError(
      ErrorCode.NOT_FOUND,
      `Stage "${stage.name}" has no stored events at or before ${when} (it did not exist yet, or that part was compacted).`,
    );
  }
  state = cloneState(state);
  // Figures as of that moment, not now: nothing is idle or stale in a photograph.
  const progress = progressOf(state, state.updatedAt ?? ctx.now());
  if (json) {
    await ctx.stdout.write(JSON.stringify({ stage: stage.name, state, progress }, null, 2) + "\n");
  } else {await ctx.stdout.write(
      renderState(state, progress, state.updatedAt ?? ctx.now(), palette(ctx.color)),
    );}
  return 0;
}

async function printEvents(
  stage: Stage,
  range: ReplayOptions,
  json: boolean,
  follow: boolean,
  ctx: Ctx,
): Promise<number> {
  const p = palette(ctx.color);
  const out = chunked(ctx.stdout);
  // Subscribe before reading the history, so nothing written in between is missed (gaps are filled
  // below).
  const live = follow ? stage.watch({ signal: ctx.signal })[Symbol.asyncIterator]() : undefined;
  const first = live?.next();
  const info = await (await ctx.store({ readOnly: true })).log.info(stage.name);
  const start = Math.max(info?.first ?? 0, range.from ?? 0);
  const m = meter(
    ctx,
    "events",
    Math.max(0, (range.to ?? info?.head ?? 0) - start + 1),
    ctx.isTTY.stderr && !ctx.isTTY.stdout,
  );
  let last = -1;
  const print = (e: ReplayEntry) => {
    last = e.revision;
    return out.push(line(e, json, p, ctx.now()));
  };
  try {
    for await (const e of stage.replay(range)) {
      m.tick();
      const wait = print(e);
      if (wait) await wait;
    }
  } finally {
    m.done();
    await out.flush();
  }
  if (!live || !first) return 0;
  const stopAt = range.to ?? Infinity;
  for (let next = await first; !next.done; next = await live.next()) {
    const e = next.value;
    if (e.revision <= last) continue;
    if (e.revision > last + 1) {
      for await (const gap of stage.replay({ from: last + 1, to: e.revision - 1 })) {
        print(gap);
      }
    }
    print(e);
    await out.flush();
    if (e.revision >= stopAt) break;
  }
  await live.return?.(undefined);
  return 0;
}

function line(e: ReplayEntry, json: boolean, p: Palette, now: number): string {
  const s = e.state;
  if (json) {
    return JSON.stringify({
      revision: e.revision,
      event: e.event,
      status: s.status,
      done: s.counters.processed,
      total: s.total,
    }) + "\n";
  }
  const pr = progressOf(s as StageState, now);
  return `${p.dim(String(e.revision).padStart(6))}  ${time(e.event.at)}  ${
    e.event.type.padEnd(14)
  } ${describeEvent(e.event)}  ${p.dim("→")} ${statusText(s.status, p)} ${progressText(pr)}\n`;
}
