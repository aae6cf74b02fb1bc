/** Operations endpoints: liveness, readiness, Prometheus metrics and the OpenAPI document. */
import type { ServerContext } from "../context.ts";
import { openApiDocument } from "../openapi.ts";
import { route, type RouteSpec } from "../route.ts";
import { Ops } from "../../protocol/ops.ts";
import { projectionOrBroken } from "../summary.ts";

export function opsRoutes(ctx: ServerContext, all: () => readonly RouteSpec[]): RouteSpec[] {
  let doc: unknown;
  return [
    route({
      ...Ops.health,
      role: null,
      summary: "Liveness: the process answers",
      responses: { 200: { description: "alive" } },
      handle: (c) => c.json({ ok: true }),
    }),
    route({
      ...Ops.ready,
      role: null,
      summary: "Readiness: the store is open and its log answers; 503 while shutting down",
      responses: { 200: { description: "ready" }, 503: { description: "not ready" } },
      handle: async (c) => {
        if (ctx.status.draining || ctx.store.closed) {
          return c.json({ ok: false, reason: "shutting down" }, 503);
        }
        try {
          await ctx.log.streams({ prefix: "~" }); // no stage name starts with "~": a cheap round trip
        } catch (err) {
          return c.json(
            { ok: false, reason: `the log does not answer: ${(err as Error).message}` },
            503,
          );
        }
        return c.json({ ok: true });
      },
    }),
    route({
      ...Ops.metrics,
      role: "read",
      summary: "Prometheus metrics: requests by status, appends, append latency, stages by status",
      produces: "text/plain",
      responses: { 200: { description: "Prometheus text format 0.0.4" } },
      handle: async (c) => {
        const stagesByStatus: Record<string, number> = {};
        for (const info of await ctx.log.streams()) {
          const p = await projectionOrBroken(ctx.log, info.stream);
          const status = "broken" in p ? "broken" : p.projection?.state.status;
          if (status) stagesByStatus[status] = (stagesByStatus[status] ?? 0) + 1;
        }
        const text = ctx.metrics.render({
          inFlight: ctx.status.inFlight,
          watchers: ctx.watchers.size,
          runsHeld: ctx.runs.size,
          stagesByStatus,
        });
        return c.text(text, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
      },
    }),
    route({
      ...Ops.openapi,
      role: null,
      summary: "This API as an OpenAPI 3.1 document",
      responses: { 200: { description: "the document" } },
      handle: (c) => c.json(doc ??= openApiDocument(all(), ctx.version)),
    }),
  ];
}
