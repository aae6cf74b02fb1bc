/**
 * `ckpt item <stage> <index>`: the lineage of one item: every stored event that touched it, with
 * its run and worker.
 */
import { type ItemLineage, itemLineage } from "../../core/lineage.ts";
import { bool } from "../args.ts";
import { type Command, JSON_FLAG, STORE_FLAGS } from "../command.ts";
import { cost, fields, int, type Palette, palette, shortId, table, time } from "../format.ts";
import { existingStage } from "../stages.ts";
import { parseCount, stageName } from "../values.ts";

const CMD = "ckpt item";

export const itemCommand: Command = {
  name: "item",
  summary:
    "why an item is done, failed, skipped or open: every event that touched it, with run and worker",
  positionals: [
    { name: "stage", description: "the stage", required: true },
    { name: "index", description: "the item's index", required: true },
  ],
  flags: { ...JSON_FLAG, ...STORE_FLAGS },
  details:
    "The same answer as GET /v1/stages/<stage>/items/<index> and the dashboard's item page. Events removed by compaction are not stored any more, so they cannot be shown.",
  examples: [
    "ckpt item fetch 4711",
    "ckpt item fetch 4711 --json | jq '.entries[] | select(.effect == \"recorded\")'",
  ],
  async run(args, ctx) {
    const name = stageName(args.positionals[0]!, CMD);
    const index = parseCount(args.positionals[1]!, "<index>", CMD);
    const stage = await existingStage(await ctx.store(), name, ctx.target);
    const lineage = await itemLineage(stage.replay(), name, index);
    if (bool(args, "json")) await ctx.stdout.write(JSON.stringify(lineage, null, 2) + "\n");
    else await ctx.stdout.write(renderLineage(lineage, palette(ctx.color)));
    return 0;
  },
};

export function renderLineage(l: ItemLineage, p: Palette): string {
  const now = l.done
    ? (l.outcome === "ok"
      ? p.green("done: ok")
      : l.outcome === "failed"
      ? p.red("done: failed")
      : p.yellow(`done: ${l.outcome ?? "counted"}`))
    : "open (not done: a resume will do it)";
  const out = [`${p.bold(`${l.stage} item ${int(l.index)}`)}  ${now}\n`];
  out.push(
    fields([["attempts", int(l.attempts)], ["errors", int(l.errors)], ["cost", cost(l.cost)], [
      "stage at",
      `revision ${int(l.revision)}`,
    ]]),
  );
  if (l.firstRevision > 0) {
    out.push(
      p.dim(
        `  events before revision ${
          int(l.firstRevision)
        } were compacted; what they did to this item is no longer stored\n`,
      ),
    );
  }
  if (l.entries.length === 0) {
    out.push("\n  no stored event touched this item: it was never attempted\n");
    return out.join("");
  }
  const rows = l.entries.map((e) => [
    String(e.revision),
    time(e.at),
    e.type,
    e.effect,
    e.outcome ?? "–",
    (e.error ?? e.reason ?? "") + (e.retryable ? " (retryable)" : ""),
    e.cost === null ? "–" : cost(e.cost),
    e.runId ? shortId(e.runId) : "–",
    e.host ? `${e.host} pid ${e.pid}` : "–",
  ]);
  out.push(
    "\n" +
      table(["REV", "TIME", "EVENT", "EFFECT", "OUTCOME", "ERROR", "COST", "RUN", "WORKER"], rows, {
        right: [0, 6],
        p,
      }).replace(/^(?=.)/gm, "  "),
  );
  return out.join("");
}
