/**
 * `ckpt export`: every stage's events, base snapshot, state and history as one JSON file that `ckpt
 * import` rebuilds exactly.
 */
import { CkptError, ErrorCode } from "../../core/errors.ts";
import { startFrom } from "../../core/fold.ts";
import { applyToProjection } from "../../core/projection.ts";
import { REDUCER_VERSION } from "../../core/state.ts";
import { str } from "../args.ts";
import { chunked } from "../chunked.ts";
import { type Command, STORE_FLAGS } from "../command.ts";
import { EXPORT_FORMAT, EXPORT_VERSION, type ExportHeader } from "../export-format.ts";
import { int } from "../format.ts";
import { meter } from "../meter.ts";
import { selectStages } from "../stages.ts";
import { stageName } from "../values.ts";

const CMD = "ckpt export";

export const exportCommand: Command = {
  name: "export",
  summary: "write stages (events, states, histories) as JSON that `ckpt import` rebuilds exactly",
  positionals: [{ name: "stage", description: "stages to export (default: all)", variadic: true }],
  flags: {
    output: {
      type: "string",
      short: "o",
      value: "<file>",
      description: "write here (replaced atomically) instead of stdout",
    },
    ...STORE_FLAGS,
  },
  details:
    `The file is JSON: { format: "${EXPORT_FORMAT}", version: ${EXPORT_VERSION}, exportedAt, source, reducerVersion, stages: [...] },\n` +
    "each stage with its events (one per line), the base snapshot if it was compacted, and its state and history.",
  examples: [
    "ckpt export -o backup.json",
    "ckpt export fetch parse > two-stages.json",
    "ckpt export --store ./.ckpt | ckpt import - --url http://127.0.0.1:7410",
  ],
  async run(args, ctx) {
    const names = args.positionals.map((n) => stageName(n, CMD));
    const path = str(args, "output") ?? "-";
    const store = await ctx.store({ readOnly: true });
    const stages = await selectStages(store, names, ctx.target);
    const infos = (await Promise.all(stages.map((s) => store.log.info(s)))).filter((i) =>
      i !== undefined
    );
    const toStdout = path === "-";
    const m = meter(
      ctx,
      "events",
      infos.reduce((a, i) => a + i.head - i.first + 1, 0),
      ctx.isTTY.stderr && !(toStdout && ctx.isTTY.stdout),
    );
    const file = await ctx.openOutput(path);
    const out = chunked(file);
    let events = 0;
    let closed = false;
    try {
      const header: ExportHeader = {
        format: EXPORT_FORMAT,
        version: EXPORT_VERSION,
        exportedAt: new Date(ctx.now()).toISOString(),
        source: ctx.target,
        reducerVersion: REDUCER_VERSION,
      };
      await out.push(JSON.stringify(header).slice(0, -1) + ',"stages":[');
      for (const [k, info] of infos.entries()) {
        m.label(info.stream);
        const base = info.first > 0 ? await store.log.loadSnapshot(info.stream, "base") : undefined;
        const p = startFrom(info.stream, info.first, base);
        if (!p) {
          throw new CkptError(
            ErrorCode.CORRUPT,
            `Stage "${info.stream}" was compacted but its base snapshot is missing or from another ckpt version; run \`ckpt verify ${info.stream}\`.`,
          );
        }
        await out.push(
          `${k ? "," : ""}\n{"stage":${JSON.stringify(info.stream)},"first":${info.first},"base":${
            JSON.stringify(base ?? null)
          },"events":[`,
        );
        let n = 0;
        for await (const { revision, event } of store.log.read(info.stream, { from: info.first })) {
          // Folded as they are written, so the state and history below describe exactly these
          // events.
          applyToProjection(p, event, revision);
          await out.push(`${n++ ? "," : ""}\n${JSON.stringify(event)}`);
          m.tick();
        }
        events += n;
        await out.push(
          `\n],"head":${p.state.revision},"state":${JSON.stringify(p.state)},"history":${
            JSON.stringify(p.history)
          }}`,
        );
      }
      await out.push("\n]}\n");
      await out.flush();
      await file.close();
      closed = true;
    } finally {
      m.done();
      if (!closed) await file.abort();
    }
    if (!toStdout) {
      await ctx.stderr.write(
        `Exported ${infos.length} stage${infos.length === 1 ? "" : "s"} (${
          int(events)
        } events) to ${path}.\n`,
      );
    }
    return 0;
  },
};
