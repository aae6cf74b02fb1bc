/**
 * The high-level API under /v1/stages: what the library can do, for clients that are not ckpt
 * libraries. Reads come from the guarded log's projections (exact, never stale); runs are held by
 * the sidecar's Store on the client's behalf (see runs.ts).
 */
import { CkptError, ErrorCode } from "../../core/errors.ts";
import { progressOf } from "../../core/progress.ts";
import type { StageState } from "../../core/state.ts";
import type { ServerContext } from "../context.ts";
import type { RunRegistry } from "../runs.ts";
import { HttpError } from "../errors.ts";
import { jsonResponse } from "../json-response.ts";
import { quickItemUpdates } from "../quick-updates.ts";
import { ndjson } from "../ndjson.ts";
import { route, type RouteSpec } from "../route.ts";
import { ErrorResponse } from "../../protocol/common.ts";
import { Stages, type Update } from "../../protocol/stages.ts";
import {
  type Broken,
  existingState,
  projectionOrBroken,
  summarize,
  type Summary,
} from "../summary.ts";
import { watchResponse } from "../watch.ts";

const err = (description: string) => ({ description, schema: ErrorResponse });

export function stageRoutes(ctx: ServerContext): RouteSpec[] {
  const { log, store, runs, clock } = ctx;
  const stale = store.staleAfterMs;

  const stateOf = (stage: string) => existingState(log, stage);

  /**
   * Every stage's summary; a stage whose state cannot be rebuilt is listed under `broken` with its
   * code, never failing the list.
   */
  async function summaries(
    prefix?: string,
    status?: readonly string[],
  ): Promise<Summary[] & { broken: Broken[] }> {
    const now = clock.now();
    const out = Object.assign([] as Summary[], { broken: [] as Broken[] });
    for (const info of await log.streams(prefix === undefined ? {} : { prefix })) {
      const p = await projectionOrBroken(log, info.stream);
      if ("broken" in p) out.broken.push(p.broken);
      else if (p.projection && (!status || status.includes(p.projection.state.status))) {
        out.push(summarize(p.projection.state, now, stale));
      }
    }
    return out;
  }

  /**
   * Admin changes refuse a stage some worker is still running, so they never pull work from under
   * it.
   */
  async function checkIdle(stage: string): Promise<Readonly<StageState>> {
    const s = await stateOf(stage);
    const held = store.activeRuns().find((r) => r.stage === stage);
    const lease = s.run?.leaseMs;
    const live = held ||
      ((s.status === "running" || s.status === "recovering") && lease && s.updatedAt !== null &&
        clock.now() - s.updatedAt < lease);
    if (live) {
      throw new CkptError(
        ErrorCode.LOCKED,
        `Stage "${stage}" is running (run ${s.run?.id}); stop its workers, or wait until its lease lapses, then try again.`,
        {
          details: { stage, runId: s.run?.id },
        },
      );
    }
    return s;
  }

  const withProgress = (s: Readonly<StageState>) => ({
    ...s,
    progress: progressOf(s as StageState, clock.now(), stale),
  });

  return [
    route({
      ...Stages.list,
      role: "read",
      summary: "Stages with status and progress, filtered by name prefix and status",
      responses: { 200: { description: "stages sorted by name" } },
      handle: async (c, { query }) => {
        const stages = await summaries(query.prefix, query.status);
        return c.json({
          stages: [...stages],
          ...(stages.broken.length > 0 ? { broken: stages.broken } : {}),
        });
      },
    }),
    route({
      ...Stages.state,
      role: "read",
      summary:
        "A stage's state: the resume point, counters, units, errors, fingerprints; ETag is its revision",
      headers: [{
        name: "If-None-Match",
        description: 'a revision seen before, e.g. "41": 304 when unchanged',
      }],
      responses: {
        200: { description: "the state" },
        304: { description: "unchanged" },
        404: err("no such stage"),
      },
      handle: async (c, { params }) => {
        const s = await stateOf(params.stage);
        const etag = `"${s.revision}"`;
        if (
          c.req.header("if-none-match")?.split(",").some((t) =>
            t.trim().replace(/^W\//, "") === etag
          )
        ) return c.body(null, 304, { etag });
        return c.json(withProgress(s), 200, { etag });
      },
    }),
    route({
      ...Stages.history,
      role: "read",
      summary: "Every run (start, end, outcome, counts) and every status change",
      responses: { 200: { description: "the history" }, 404: err("no such stage") },
      handle: async (c, { params }) => {
        const p = await log.projection(params.stage);
        if (!p) {
          throw new CkptError(ErrorCode.NOT_FOUND, `Stage "${params.stage}" does not exist.`, {
            details: { stage: params.stage },
          });
        }
        return c.json(p.history, 200, { etag: `"${p.state.revision}"` });
      },
    }),
    route({
      ...Stages.replay,
      role: "read",
      summary:
        "Replays the history as NDJSON from a revision or a time, optionally with the state after each event",
      produces: "application/x-ndjson",
      responses: {
        200: { description: "{revision, event, state?} per line" },
        404: err("no such stage"),
      },
      handle: async (_c, { params, query }) => {
        await stateOf(params.stage);
        const { state: withState = "none", ...range } = query;
        const entries = store.stage(params.stage).replay(range);
        return ndjson(
          entries,
          ({ revision, event, state }) =>
            withState === "none" ? { revision, event } : {
              revision,
              event,
              state: withState === "full"
                ? state
                : { status: state.status, counters: state.counters, total: state.total },
            },
        );
      },
    }),
    route({
      ...Stages.watch,
      role: "read",
      summary:
        "Live updates as Server-Sent Events (a stage that does not exist yet is watched until it does)",
      headers: [{
        name: "Last-Event-ID",
        description: "the last revision received: what came after it is replayed first",
      }],
      produces: "text/event-stream",
      responses: {
        200: {
          description:
            "messages with id = revision; `event: state` carries the summary after each batch",
        },
        429: err("too many open streams"),
      },
      handle: (c, { params, query }) => {
        const last = c.req.header("last-event-id");
        let from = query.from;
        if (last !== undefined) {
          if (!/^\d{1,15}$/.test(last.trim())) {
            throw new HttpError(ErrorCode.INVALID, "Last-Event-ID must be a revision number.");
          }
          from = Number(last) + 1;
        }
        return watchResponse(ctx, params.stage, from, c.req.raw.signal);
      },
    }),
    route({
      ...Stages.begin,
      role: "write",
      summary:
        "Begins (or resumes, or with join shares) a run: detects crashes, compares input and config fingerprints",
      bodyOptional: true,
      responses: {
        201: { description: "a run began (Location names it)" },
        200: { description: "joined the stage's live run" },
        409: err("CKPT_LOCKED, CKPT_INPUT_CHANGED or CKPT_CONFIG_CHANGED"),
      },
      handle: async (c, { params, body }) => {
        const { input, ...rest } = body ?? {};
        const { held, joined, resumed } = await runs.begin(params.stage, {
          ...rest,
          ...(input ? { input: { sha256: input.sha256 } } : {}),
        });
        const run = held.run;
        const location = `/v1/stages/${params.stage}/runs/${run.id}`;
        return c.json(
          { runId: run.id, joined, leaseMs: held.leaseMs, resumed, state: withProgress(run.state) },
          joined ? 200 : 201,
          { location },
        );
      },
    }),
    route({
      ...Stages.updates,
      role: "write",
      summary:
        "Records a batch of updates (items, units, progress, errors, metadata, lifecycle) in one durable write",
      quickBody: quickItemUpdates,
      headers: [{
        name: "If-Match",
        description: 'the revision the client expects the stage to be at, e.g. "41"',
      }],
      responses: {
        200: { description: "all updates are durable" },
        404: err("the run is not live here"),
        409: err("CKPT_BAD_TRANSITION (nothing recorded), CKPT_CONFLICT (If-Match)"),
      },
      handle: async (c, { params, body }) => {
        const done = await recordUpdates(runs, params, body, c.req.header("if-match"));
        return jsonResponse(done.body, 200, done.headers);
      },
    }),
    route({
      ...Stages.release,
      role: "write",
      summary:
        "Releases the run without changing the stage's status (what a worker does when it stops early)",
      responses: { 204: { description: "released" }, 404: err("the run is not live here") },
      handle: async (c, { params }) => {
        await runs.release(runs.get(params.stage, params.runId));
        return c.body(null, 204);
      },
    }),
    route({
      ...Stages.reset,
      role: "admin",
      summary:
        "Starts the stage over (state and resume point empty; the history keeps what happened)",
      bodyOptional: true,
      responses: {
        200: { description: "the state after the reset" },
        404: err("no such stage"),
        409: err("CKPT_LOCKED: a run is live"),
      },
      handle: async (c, { params, body }) => {
        await runs.withStage(params.stage, async () => {
          await checkIdle(params.stage);
          const reason = body?.reason;
          await log.append(params.stage, [{
            type: "reset",
            v: 1,
            at: clock.now(),
            ...(reason ? { reason } : {}),
          }], { expectedRevision: "any" });
        });
        return c.json(withProgress(await stateOf(params.stage)));
      },
    }),
    route({
      ...Stages.delete,
      role: "admin",
      summary: "Removes the stage and its whole history",
      responses: {
        204: { description: "deleted" },
        404: err("no such stage"),
        409: err("CKPT_LOCKED: a run is live"),
      },
      handle: async (c, { params }) => {
        await runs.withStage(params.stage, async () => {
          await checkIdle(params.stage);
          await store.stage(params.stage).delete();
        });
        return c.body(null, 204);
      },
    }),
    route({
      ...Stages.report,
      role: "read",
      summary: "Every stage with progress figures, and totals by status",
      responses: { 200: { description: "the report" } },
      handle: async (c) => {
        const stages = await summaries();
        const byStatus: Record<string, number> = {};
        const totals = {
          stages: stages.length,
          byStatus,
          processed: 0,
          successful: 0,
          failed: 0,
          skipped: 0,
          cost: 0,
        };
        for (const s of stages) {
          byStatus[s.status] = (byStatus[s.status] ?? 0) + 1;
          totals.processed += s.counters.processed;
          totals.successful += s.counters.successful;
          totals.failed += s.counters.failed;
          totals.skipped += s.counters.skipped;
          totals.cost += s.cost;
        }
        return c.json({
          generatedAt: clock.now(),
          totals,
          stages: [...stages],
          ...(stages.broken.length > 0 ? { broken: stages.broken } : {}),
        });
      },
    }),
    route({
      ...Stages.compact,
      role: "admin",
      summary:
        "Applies a retention policy: old events folded into base snapshots, expired stages removed, live stages skipped (waits for a compaction in flight)",
      responses: {
        200: { description: "the compaction report" },
        400: err("CKPT_INVALID: the policy sets none of maxAgeMs, maxEvents, stageTtlMs"),
        503: err("CKPT_UNAVAILABLE: the sidecar is shutting down"),
      },
      handle: async (c, { body }) => {
        // The same path as the --compact-every schedule: one at a time, counted on /metrics.
        const report = await ctx.compactor.run(body, "request");
        return c.json(report);
      },
    }),
  ];
}

/**
 * The updates route's work, whichever server path received it (the app's route above, or the Node
 * server's hot path, hot-updates.ts): records `body.updates` on the held run, durably, and says
 * where the stage is now.
 */
export async function recordUpdates(
  runs: RunRegistry,
  params: { stage: string; runId: string },
  body: { updates: Update[] },
  ifMatch: string | undefined,
): Promise<{ body: UpdatesAnswer; headers: { etag: string } }> {
  const held = runs.get(params.stage, params.runId);
  let expected: number | undefined;
  if (ifMatch !== undefined) {
    const m = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(ifMatch);
    if (!m) throw new HttpError(ErrorCode.INVALID, `If-Match must be a revision, like "41".`);
    expected = Number(m[1]);
  }
  await runs.update(held, body.updates, expected);
  const s = held.run.state;
  return {
    body: { revision: s.revision, status: s.status, counters: s.counters, ended: held.run.ended },
    headers: { etag: `"${s.revision}"` },
  };
}

interface UpdatesAnswer {
  revision: number;
  status: StageState["status"];
  counters: StageState["counters"];
  ended: boolean;
}
