/**
 * `ckpt watch [stage...]`: live progress (done, rate, ETA) redrawn in place on a TTY, one line per
 * change otherwise.
 */
import { type ProgressFigures, progressOf } from "../../core/progress.ts";
import type { StageState } from "../../core/state.ts";
import type { Store } from "../../core/store.ts";
import { bool, str } from "../args.ts";
import { type Command, JSON_FLAG, PREFIX_FLAG, STORE_FLAGS } from "../command.ts";
import type { Ctx } from "../context.ts";
import {
  bar,
  etaFor,
  type Palette,
  palette,
  progressText,
  rate,
  statusText,
  time,
  truncate,
} from "../format.ts";
import { existingStage } from "../stages.ts";
import { optional, parseDuration, stageName } from "../values.ts";

const CMD = "ckpt watch";

interface Row {
  state: StageState;
  progress: ProgressFigures;
}

export const watchCommand: Command = {
  name: "watch",
  summary: "live progress bars (done, rate, ETA) until Ctrl+C; plain lines when not a terminal",
  positionals: [{
    name: "stage",
    description: "stages to watch (default: all, including new ones)",
    variadic: true,
  }],
  flags: {
    interval: {
      type: "string",
      value: "<duration>",
      description: "how often to look (default 1s)",
    },
    ...PREFIX_FLAG,
    "until-done": {
      type: "boolean",
      description: "exit once every watched stage is completed or failed (exit 1 if one failed)",
    },
    ...JSON_FLAG,
    ...STORE_FLAGS,
  },
  details:
    "On a terminal the bars are redrawn in place. Otherwise (a pipe, a log file) it prints one line each time a\n" +
    "stage changes, or one JSON object per change with --json. A LevelDB folder is read through a private copy,\n" +
    "taken again each interval, so watching never writes to it, even while a pipeline holds it.",
  examples: [
    "ckpt watch",
    "ckpt watch fetch parse --interval 250ms",
    "ckpt watch --until-done --json > progress.ndjson",
  ],
  async run(args, ctx) {
    const names = args.positionals.map((n) => stageName(n, CMD));
    const interval = optional(args, "interval", (t, f) => parseDuration(t, f, CMD)) ?? 1000;
    const prefix = str(args, "prefix");
    const untilDone = bool(args, "until-done");
    const json = bool(args, "json");
    let store = await ctx.store({ readOnly: true });
    for (const n of names) await existingStage(store, n, ctx.target);
    const live = ctx.isTTY.stdout && !json;
    const p = palette(ctx.color);
    const seen = new Map<string, number>();
    let drawn = 0;
    if (live) await ctx.stdout.write("\x1b[?25l"); // hide the cursor while redrawing
    try {
      for (let tick = 0;; tick++) {
        // A LevelDB folder is read through a private view: take a fresh one each time to see what
        // was written since.
        if (tick > 0) store = await ctx.reopen();
        const now = ctx.now();
        const rows = await look(store, names, prefix, now);
        if (live) {
          const frame = render(rows, now, ctx, p);
          await ctx.stdout.write((drawn ? `\x1b[${drawn}A\r\x1b[J` : "") + frame.join("\n") + "\n");
          drawn = frame.length;
        } else {
          if (rows.length === 0 && !seen.has("")) {
            (seen.set("", 0),
              await ctx.stdout.write(json ? "" : `${time(now)}  no stages yet in ${ctx.target}\n`));
          }
          for (const r of rows) {
            if (seen.get(r.state.stage) === r.state.revision) continue;
            seen.set(r.state.stage, r.state.revision);
            await ctx.stdout.write(
              json ? JSON.stringify(jsonLine(r, now)) + "\n" : plainLine(r, now, p) + "\n",
            );
          }
        }
        const finished = rows.length > 0 &&
          rows.every((r) => r.state.status === "completed" || r.state.status === "failed");
        if (untilDone && finished) return rows.some((r) => r.state.status === "failed") ? 1 : 0;
        if (ctx.signal.aborted) return 0;
        await ctx.sleep(interval);
        if (ctx.signal.aborted) return 0;
      }
    } finally {
      if (live) await ctx.stdout.write("\x1b[?25h");
    }
  },
};

async function look(
  store: Store,
  names: readonly string[],
  prefix: string | undefined,
  now: number,
): Promise<Row[]> {
  const list = names.length
    ? names
    : (await store.log.streams(prefix ? { prefix } : {})).map((s) => s.stream);
  const rows: Row[] = [];
  for (const n of list) {
    // state() (not stages()) so shared logs catch up with other processes on every look.
    const state = await store.stage(n).state();
    rows.push({ state, progress: progressOf(state, now, store.staleAfterMs) });
  }
  return rows;
}

function render(rows: readonly Row[], now: number, ctx: Ctx, p: Palette): string[] {
  const width = Math.max(40, ctx.columns || 80) - 1;
  const head = `${p.bold("ckpt watch")}  ${ctx.target}  ${p.dim(time(now))}  ${
    p.dim("Ctrl+C to stop")
  }`;
  if (rows.length === 0) return [truncate(head, width), "no stages yet; waiting…"];
  const nameW = Math.min(30, Math.max(...rows.map((r) => r.state.stage.length)));
  // Plain text per column first, so every bar starts and ends in the same column.
  const cells = rows.map((r) => ({
    status: statusText(r.state.status, palette(false), r.progress.stale),
    done: progressText(r.progress),
    rate: rate(r.progress.throughput),
    eta: `ETA ${etaFor(r.state.status, r.progress)}`,
  }));
  const w = (k: keyof (typeof cells)[number]) => Math.max(...cells.map((c) => c[k].length));
  const [statusW, doneW, rateW] = [w("status"), w("done"), w("rate")];
  const barW = Math.max(10, Math.min(40, width - nameW - statusW - doneW - rateW - w("eta") - 10));
  const lines = rows.map((r, i) => {
    const c = cells[i]!;
    const frac = r.progress.percent === null ? null : r.progress.percent / 100;
    const status = statusText(r.state.status, p, r.progress.stale) +
      " ".repeat(statusW - c.status.length);
    return truncate(
      `${truncate(r.state.stage, nameW).padEnd(nameW)}  ${status}  ${bar(frac, barW, p)}  ${
        c.done.padStart(doneW)
      }  ${c.rate.padStart(rateW)}  ${c.eta}`,
      width,
    );
  });
  return [truncate(head, width), ...lines];
}

function plainLine(r: Row, now: number, p: Palette): string {
  const s = r.state;
  return `${time(now)}  ${s.stage}  ${statusText(s.status, p, r.progress.stale)}  ${
    progressText(r.progress)
  }  ${rate(r.progress.throughput)}  ETA ${etaFor(s.status, r.progress)}`;
}

function jsonLine(r: Row, now: number) {
  const pr = r.progress;
  return {
    at: time(now),
    stage: r.state.stage,
    revision: r.state.revision,
    status: r.state.status,
    stale: pr.stale,
    done: pr.done,
    total: pr.total,
    percent: pr.percent,
    throughput: pr.throughput,
    etaSeconds: pr.etaSeconds,
  };
}
