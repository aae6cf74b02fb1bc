/**
 * The sidecar as a Hono app built from a Store: no listening here, so tests call `app.request()`
 * and node.ts / deno.ts only serve `fetch`. Middleware, outermost first: metrics, shutdown and
 * concurrency limits; then each route authenticates, authorizes and validates (route.ts).
 */
import { Hono } from "hono";
import type { Clock } from "../core/clock.ts";
import { CkptError, ErrorCode } from "../core/errors.ts";
import type { Store } from "../core/store.ts";
import type { TokenTable } from "./auth.ts";
import { type CompactionSchedule, scheduleCompaction } from "./compaction-schedule.ts";
import type { CompactionNotice } from "./compaction-notice.ts";
import { Compactor } from "./compactor.ts";
import type { Limits, ServerContext } from "./context.ts";
import { errorResponse, HttpCode, HttpError } from "./errors.ts";
import { isGuardedLog } from "./guarded-log.ts";
import { Metrics, NO_ROUTE } from "./metrics.ts";
import { type HotPath, hotUpdates } from "./hot-updates.ts";
import { type AppEnv, mount, type RouteChecks, type RouteSpec } from "./route.ts";
import { checkpointRoutes } from "./routes/checkpoints.ts";
import { mountDashboard } from "./dashboard-assets.ts";
import { dashboardRoutes } from "./routes/dashboard.ts";
import { logRoutes } from "./routes/log.ts";
import { opsRoutes } from "./routes/ops.ts";
import { stageRoutes } from "./routes/stages.ts";
import { Stages } from "../protocol/stages.ts";
import { RunRegistry } from "./runs.ts";

export const VERSION = "0.1.0";

export const DEFAULT_LIMITS: Limits = {
  bodyLimit: 1024 * 1024,
  logBodyLimit: 32 * 1024 * 1024,
  maxInFlight: 512,
  maxWatchers: 256,
  heartbeatMs: 15_000,
};

export interface AppOptions extends Partial<Limits> {
  /** Empty or absent: auth is off (main.ts then listens on loopback only). */
  tokens?: TokenTable;
  /** How often held runs are checked for silent clients. Default 1000 ms. */
  reapEveryMs?: number;
  /** Told about unexpected errors (answered as a bare 500). */
  onError?: (err: unknown) => void;
  /**
   * Also compact on a timer with this policy (--compact-every); without it only POST /v1/compact
   * compacts.
   */
  compaction?: CompactionSchedule;
  /**
   * Told about every compaction that changed the log, failed or was skipped, scheduled or
   * requested.
   */
  onCompaction?: (n: CompactionNotice) => void;
  /**
   * Time and timers for leases, the reaper, the compaction schedule, live updates and summaries.
   * Default: the store's clock; one given here must be that same clock (serverStore(log, { clock
   * })), or events would be stamped on one time line and judged on another. Tests drive it to skip
   * waits.
   */
  clock?: Clock;
}

export interface CkptApp {
  readonly app: Hono<AppEnv>;
  readonly fetch: (req: Request) => Response | Promise<Response>;
  /**
   * The single-update request served without the framework, for a server that reads sockets itself
   * (node.ts); a server that only calls `fetch` loses nothing by ignoring it.
   */
  readonly hot: HotPath;
  readonly routes: readonly RouteSpec[];
  readonly context: ServerContext;
  /**
   * Refuses new requests (503), closes live-update streams, clears the compaction schedule, stops a
   * compaction in flight before its next stage, and waits for it and for requests in flight.
   */
  drain(graceMs?: number): Promise<void>;
}

const OPS = new Set(["/healthz", "/readyz", "/metrics"]);

/**
 * @example
 * const store = serverStore(await levelLog("./.ckpt"))
 * const { fetch } = createApp(store, { tokens: parseTokens(process.env.CKPT_TOKENS ?? "", "CKPT_TOKENS") })
 */
export function createApp(store: Store, options: AppOptions = {}): CkptApp {
  const log = store.log;
  if (!isGuardedLog(log)) {
    throw new CkptError(
      ErrorCode.INVALID,
      "createApp() needs a store over the sidecar's guarded log: build it with serverStore(log).",
    );
  }
  if (options.clock !== undefined && options.clock !== store.clock) {
    throw new CkptError(
      ErrorCode.INVALID,
      "createApp() was given a clock other than its store's: the store stamps events with its clock and the sidecar would judge leases and ages by another. Pass the clock to serverStore(log, { clock }) and leave it out here (or pass the same one).",
      { issues: [{ path: ["clock"], message: "not the store's clock" }] },
    );
  }
  const clock = store.clock;
  const limits: Limits = { ...DEFAULT_LIMITS, ...definedOnly(options) };
  const metrics = new Metrics(clock);
  log.observe((s, n, ok) => metrics.observeAppend(s, n, ok));
  const onCompaction = options.onCompaction ?? (() => undefined);
  const compactor = new Compactor(log, store, metrics, onCompaction);
  const ctx: ServerContext = {
    store,
    clock,
    log,
    runs: new RunRegistry(store, log, options.reapEveryMs, clock),
    metrics,
    compactor,
    limits,
    watchers: new Set(),
    status: { inFlight: 0, draining: false },
    version: VERSION,
  };

  const app = new Hono<AppEnv>();
  app.use("*", async (c, next) => {
    try {
      await next();
    } finally {
      metrics.countRequest(c.req.method, c.get("route") ?? NO_ROUTE, c.res.status);
    }
  });
  /** Refuses a request while shutting down or at the in-flight cap (counted once admitted). */
  const admit = () => {
    if (ctx.status.draining) {
      throw new HttpError(
        ErrorCode.UNAVAILABLE,
        "The sidecar is shutting down; retry against it once it is back.",
        { headers: { connection: "close", "retry-after": "1" } },
      );
    }
    if (ctx.status.inFlight >= limits.maxInFlight) {
      metrics.rejectedBusy++;
      throw new HttpError(
        HttpCode.BUSY,
        `${limits.maxInFlight} requests are in flight already; retry shortly (or batch updates).`,
        { headers: { "retry-after": "1" } },
      );
    }
  };
  app.use("*", async (c, next) => {
    if (OPS.has(c.req.path)) return next();
    admit();
    ctx.status.inFlight++;
    try {
      await next();
    } finally {
      ctx.status.inFlight--;
    }
  });

  const routes: RouteSpec[] = [];
  routes.push(
    ...opsRoutes(ctx, () => routes),
    ...logRoutes(ctx),
    ...stageRoutes(ctx),
    ...checkpointRoutes(ctx),
  );
  const mountOptions = {
    tokens: options.tokens ?? [],
    bodyLimit: limits.bodyLimit,
    logBodyLimit: limits.logBodyLimit,
  };
  routes.push(...dashboardRoutes(ctx));
  let updates: RouteChecks | undefined;
  for (const r of routes) {
    const checks = mount(app, r, mountOptions);
    if (r.method === Stages.updates.method && r.path === Stages.updates.path) updates = checks;
  }
  mountDashboard(app);
  const schedule = options.compaction
    ? scheduleCompaction(compactor, options.compaction, onCompaction, clock)
    : undefined;

  app.notFound((c) =>
    c.json({
      error: {
        code: ErrorCode.NOT_FOUND,
        message:
          `No endpoint ${c.req.method} ${c.req.path}; the API is described at /openapi.json.`,
      },
    }, 404)
  );
  const onError = (err: unknown) => options.onError?.(err);
  app.onError((err, c) => {
    const r = errorResponse(err);
    if (r.internal) onError(err);
    return c.json(r.body, r.status as 400, r.headers);
  });

  return {
    app,
    fetch: (req) => app.fetch(req),
    hot: hotUpdates(ctx, updates!, admit, onError),
    routes,
    context: ctx,
    async drain(graceMs = 10_000) {
      ctx.status.draining = true;
      ctx.runs.stop();
      for (const close of [...ctx.watchers]) close();
      // Not bounded by the grace: the store must not close under a stage being compacted (at most
      // one stage's work).
      const compacting = Promise.all([schedule?.stop(), compactor.stop()]);
      // Real time, not ctx.clock: the grace bounds how long a real process waits for real sockets,
      // and a driven clock nobody advances during shutdown would wait forever.
      const until = Date.now() + graceMs;
      while (ctx.status.inFlight > 0 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 10));
      }
      await compacting;
    },
  };
}

function definedOnly(o: AppOptions): Partial<Limits> {
  const out: Partial<Limits> = {};
  for (const k of Object.keys(DEFAULT_LIMITS) as (keyof Limits)[]) {
    if (o[k] !== undefined) out[k] = o[k];
  }
  return out;
}
