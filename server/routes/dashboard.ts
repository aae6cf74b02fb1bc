/**
 * The API the dashboard reads beyond /v1/stages: item lineage, the stage page's insight (timeline,
 * series, error groups), the state at a past revision or time (the history scrubber; the same fold
 * as `ckpt replay --at`), and one live stream of every stage's summary. All read scope.
 */
import { CkptError, ErrorCode } from "../../core/errors.ts";
import { itemLineage } from "../../core/lineage.ts";
import { progressOf } from "../../core/progress.ts";
import { cloneState, type StageState } from "../../core/state.ts";
import type { ServerContext } from "../context.ts";
import { InsightCache } from "../insight-cache.ts";
import { liveResponse } from "../live.ts";
import { route, type RouteSpec } from "../route.ts";
import { ErrorResponse } from "../../protocol/common.ts";
import { Stages } from "../../protocol/stages.ts";
import { existingState, summarize, type Summary } from "../summary.ts";

const err = (description: string) => ({ description, schema: ErrorResponse });

export function dashboardRoutes(ctx: ServerContext): RouteSpec[] {
  const { log, store } = ctx;
  const insights = new InsightCache(store);

  const mustExist = (stage: string) => existingState(log, stage);

  /** Every stage's summary; one that cannot be read is left out rather than failing the page. */
  async function everyStage(): Promise<Summary[]> {
    const now = ctx.clock.now();
    const out: Summary[] = [];
    for (const info of await log.streams()) {
      const p = await log.projection(info.stream).catch(() => undefined);
      if (p) out.push(summarize(p.state, now, store.staleAfterMs));
    }
    return out;
  }

  return [
    route({
      ...Stages.item,
      role: "read",
      summary:
        "Item lineage: every stored event that touched this item index (attempts, outcome, errors, cost, run, worker, time)",
      responses: {
        200: { description: "the lineage, oldest event first" },
        404: err("no such stage"),
      },
      handle: async (c, { params }) => {
        await mustExist(params.stage);
        return c.json(
          await itemLineage(store.stage(params.stage).replay(), params.stage, params.index),
        );
      },
    }),
    route({
      ...Stages.insight,
      role: "read",
      summary:
        "For the dashboard: lifecycle timeline with owners, throughput and ETA over time, errors grouped by message",
      responses: { 200: { description: "the insight" }, 404: err("no such stage") },
      handle: async (c, { params }) => {
        const s = await mustExist(params.stage);
        const insight = await insights.get(params.stage, s);
        return c.json(insight, 200, { etag: `"${insight.revision}"` });
      },
    }),
    route({
      ...Stages.at,
      role: "read",
      summary:
        "The state as it was at a revision or a time (what `ckpt replay --at` prints), with its progress figures then",
      responses: {
        200: { description: "{ revision, at, state, progress }" },
        404: err("no such stage, or no stored event at or before that point"),
      },
      handle: async (c, { params, query }) => {
        await mustExist(params.stage);
        let last: { revision: number; at: number; state: StageState } | undefined;
        const bounds = query.revision !== undefined
          ? { to: query.revision }
          : { until: query.time! };
        for await (const e of store.stage(params.stage).replay(bounds)) {
          last = { revision: e.revision, at: e.event.at, state: e.state as StageState };
        }
        if (!last) {
          const when = query.revision !== undefined
            ? `revision ${query.revision}`
            : new Date(query.time!).toISOString();
          throw new CkptError(
            ErrorCode.NOT_FOUND,
            `Stage "${params.stage}" has no stored events at or before ${when} (it did not exist yet, or that part was compacted).`,
            {
              details: { stage: params.stage },
            },
          );
        }
        const state = cloneState(last.state);
        // Figures as of that moment, not now: nothing is idle or stale in a photograph.
        return c.json({
          revision: last.revision,
          at: last.at,
          state,
          progress: progressOf(state, last.at, store.staleAfterMs),
        });
      },
    }),
    route({
      ...Stages.live,
      role: "read",
      summary:
        "Every stage's summary live as Server-Sent Events: `stages` (all, on connect and reconnect), then `state` and `deleted` as they change",
      produces: "text/event-stream",
      responses: { 200: { description: "the event stream" }, 429: err("too many open streams") },
      handle: (c) => liveResponse(ctx, everyStage, c.req.raw.signal),
    }),
  ];
}
