/**
 * The high-level API under /v1/stages (runs held by the sidecar, state, history, checkpoints,
 * report, compaction) and the dashboard's reads: for clients that are not ckpt libraries. Event and
 * update fields reuse core's schemas, so the limits cannot drift apart.
 */
import { z } from "zod";
import { ErrorRecorded, ItemDone, Progress, StageName, UnitUpdated } from "../core/events.ts";
import type { Status } from "../core/state.ts";
import { endpoint, hex64, nat, NoQuery, StageParams, STATUSES, time } from "./common.ts";

// ---- params and queries ----

export const RunParams = z.strictObject({
  stage: StageName,
  runId: z.string().min(1).max(64).regex(/^[A-Za-z0-9-]+$/, "not a run id"),
});

export const ListQuery = z.strictObject({
  prefix: z.string().max(200).optional(),
  status: z
    .string()
    .max(200)
    .transform((s, ctx) => {
      const list = s.split(",").map((x) => x.trim()).filter(Boolean);
      const bad = list.filter((x) => !(STATUSES as string[]).includes(x));
      if (bad.length) {
        ctx.addIssue({
          code: "custom",
          message: `unknown status ${bad.join(", ")}; use ${STATUSES.join(", ")}`,
        });
      }
      return list as Status[];
    })
    .describe(`comma-separated statuses: ${STATUSES.join(", ")}`)
    .optional(),
});

export const ReplayQuery = z.strictObject({
  from: nat("from").optional(),
  to: nat("to").optional(),
  since: time.optional(),
  until: time.optional(),
  state: z.enum(["none", "summary", "full"]).optional().describe(
    "what to send with each event: nothing (default), status and counters, or the whole state",
  ),
});

export const WatchQuery = z.strictObject({
  from: nat("from").optional().describe(
    "replay from this revision first (the Last-Event-ID header does the same on reconnect)",
  ),
});

export const ItemParams = z.strictObject({ stage: StageName, index: nat("index") });
export const AtQuery = z
  .strictObject({
    revision: nat("revision").optional(),
    time: nat("time").optional().describe(
      "ms since the epoch: the state after the last event at or before it",
    ),
  })
  .refine(
    (q) => (q.revision === undefined) !== (q.time === undefined),
    "give exactly one of revision and time",
  );

export const CheckpointsQuery = z.strictObject({
  limit: nat("limit").refine((n) => n >= 1, "limit must be at least 1").optional(),
});

// ---- bodies ----

export const BeginBody = z.strictObject({
  total: z.number().int().nonnegative().optional(),
  input: z.strictObject({ sha256: hex64 }).optional().describe(
    "fingerprint of the input the run works through",
  ),
  config: z.json().optional().describe(
    "settings that change the output; the sidecar keeps their SHA-256 over canonical JSON",
  ),
  onChange: z.enum(["error", "restart"]).optional(),
  leaseMs: z.number().int().min(100).max(24 * 3_600_000).optional().describe(
    "how long the run stays claimed without a request from its client",
  ),
  join: z.boolean().optional().describe(
    "share the stage's live run instead of refusing with CKPT_LOCKED",
  ),
});

const I = ItemDone.shape;
const P = Progress.shape;
const U = UnitUpdated.shape;
const E = ErrorRecorded.shape;
const label = z.string().max(2048);
const metadata = z.record(z.string().max(200), z.json());

export const Update = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("item"),
    index: I.index,
    ok: z.boolean().optional(),
    skipped: z.boolean().optional(),
    item: I.item,
    batch: I.batch,
    cost: I.cost,
    error: I.error,
  }),
  z.strictObject({
    type: z.literal("progress"),
    total: P.total,
    ok: P.ok,
    failed: P.failed,
    skipped: P.skipped,
    cost: P.cost,
    message: P.message,
  }),
  z
    .strictObject({
      type: z.literal("unit"),
      key: U.key,
      status: U.status,
      page: U.page,
      records: U.records,
      error: U.error,
      retryable: U.retryable,
    })
    .refine((u) => u.status !== "running" || u.page !== undefined, {
      message: "a running unit update needs the page just written",
      path: ["page"],
    }),
  z.strictObject({
    type: z.literal("error"),
    message: E.message,
    retryable: z.boolean().optional(),
    index: E.index,
    item: E.item,
  }),
  z.strictObject({ type: z.literal("metadata"), metadata }),
  z.strictObject({ type: z.literal("pause"), reason: label.optional() }),
  z.strictObject({ type: z.literal("resume") }),
  z.strictObject({ type: z.literal("complete"), metadata: metadata.optional() }),
  z.strictObject({ type: z.literal("fail"), message: label, retryable: z.boolean().optional() }),
  z.strictObject({
    type: z.literal("checkpoint"),
    state: z.json().refine((v) => v !== undefined, "state is required").describe(
      "any JSON value (up to 1 MiB as msgpack); GET .../checkpoints/latest returns it",
    ),
    step: z.number().int().nonnegative().optional(),
    metadata: metadata.optional(),
  }),
]);
export type Update = z.infer<typeof Update>;

export const UpdatesBody = z.strictObject({
  updates: z.array(Update).max(20_000).describe(
    "applied in order, all or nothing; an empty list only renews the run's lease",
  ),
});

export const ResetBody = z.strictObject({ reason: label.optional() });
const ms = z.number().int().nonnegative();
export const CompactBody = z.strictObject({
  maxAgeMs: ms.optional().describe(
    "events older than this are folded into the base snapshot and removed",
  ),
  maxEvents: ms.optional().describe("keep at most this many events per stage"),
  minEvents: ms.optional().describe("always keep at least this many recent events (default 100)"),
  stageTtlMs: ms.optional().describe(
    "stages finished or idle for longer than this are removed whole",
  ),
  keepCheckpoints: z.number().int().positive().optional().describe(
    "keep at most this many state checkpoints per stage (default 10; the latest always stays)",
  ),
  checkpointTtlMs: ms.optional().describe(
    "state checkpoints older than this go, except the latest",
  ),
  prefix: z.string().max(200).optional(),
  dryRun: z.boolean().optional().describe("report what would go; change nothing"),
});

// ---- responses ----

const Counters = z.object({
  processed: z.number(),
  successful: z.number(),
  failed: z.number(),
  skipped: z.number(),
  duplicates: z.number(),
  reopened: z.number(),
});
const ProgressFigures = z.object({
  done: z.number(),
  total: z.number().nullable(),
  percent: z.number().nullable(),
  successRate: z.number().nullable(),
  throughput: z.number().nullable(),
  etaSeconds: z.number().nullable(),
  idleMs: z.number().nullable(),
  stale: z.boolean(),
});

export const StageSummary = z.object({
  stage: z.string(),
  status: z.enum(STATUSES),
  revision: z.number().int(),
  total: z.number().nullable(),
  counters: Counters,
  cost: z.number(),
  errors: z.object({ count: z.number(), lastMessage: z.string().nullable() }),
  runId: z.string().nullable(),
  updatedAt: z.number().nullable(),
  progress: ProgressFigures,
});
/**
 * A stage whose state cannot be rebuilt (e.g. CKPT_CORRUPT): listed with its code rather than
 * failing the whole list.
 */
export const BrokenStage = z.object({
  stage: z.string(),
  status: z.literal("broken"),
  code: z.string(),
  message: z.string(),
});
export const StagesResponse = z.object({
  stages: z.array(StageSummary),
  broken: z.array(BrokenStage).optional(),
});
const Nullable = { num: z.number().nullable(), str: z.string().nullable() };
/**
 * The resume point: every index below `watermark` is done, and so is every [start, end) pair in
 * `ranges`.
 */
const ResumePoint = z.object({
  watermark: z.number().int().describe("every index below it is done"),
  ranges: z.array(z.number().int()).describe(
    "flat sorted pairs [start0, end0, start1, end1, …]: indices start ≤ i < end done beyond the watermark",
  ),
  lastIndex: Nullable.num,
  lastItem: Nullable.str,
  batch: Nullable.str,
});
const UnitStateSchema = z.object({
  status: z.enum(["running", "complete", "failed"]),
  page: Nullable.num.describe("last page fully written; resume from page + 1"),
  records: z.number(),
  retryable: z.boolean().nullable(),
  error: Nullable.str,
  updatedAt: z.number(),
});
export const StateResponse = z
  .looseObject({
    stage: z.string(),
    revision: z.number().int(),
    status: z.enum(STATUSES),
    total: Nullable.num,
    counters: Counters,
    resume: ResumePoint,
    units: z.record(z.string(), UnitStateSchema),
    errors: z.object({
      count: z.number(),
      lastMessage: Nullable.str,
      lastAt: Nullable.num,
      retryable: z.boolean().nullable(),
    }),
    cost: z.number(),
    metadata: z.record(z.string(), z.unknown()),
    input: Nullable.str.describe("SHA-256 of the input the stage was started with"),
    config: Nullable.str.describe("SHA-256 of the canonical config"),
    run: z.object({
      id: z.string(),
      owner: z.object({ host: z.string(), pid: z.number(), runId: z.string() }).nullable(),
      startedAt: z.number(),
      processedAtStart: z.number(),
      leaseMs: Nullable.num,
    }).nullable(),
    runs: z.number().int(),
    createdAt: Nullable.num,
    startedAt: Nullable.num,
    updatedAt: Nullable.num,
    finishedAt: Nullable.num,
    progress: ProgressFigures,
  })
  .describe(
    "the whole StageState (resume point, units, errors, metadata, fingerprints) plus progress figures",
  );
export const CheckpointInfoResponse = z.object({
  revision: z.number().int(),
  at: z.number(),
  step: Nullable.num,
  metadata: z.record(z.string(), z.unknown()),
  bytes: z.number().int(),
});
export const CheckpointResponse = CheckpointInfoResponse.extend({
  state: z.unknown().describe("the value saved"),
});
export const CheckpointsResponse = z.object({
  checkpoints: z.array(CheckpointInfoResponse).describe(
    "newest first, since the stage's last reset",
  ),
});
export const HistoryResponse = z.looseObject({
  stage: z.string(),
  runs: z.array(z.looseObject({ runId: z.string(), outcome: z.string() })),
  statusChanges: z.array(z.looseObject({ revision: z.number(), from: z.string(), to: z.string() })),
});
export const BeginResponse = z.object({
  runId: z.string(),
  joined: z.boolean(),
  leaseMs: z.number(),
  resumed: z.object({
    from: z.string(),
    crashed: z.boolean(),
    skipped: z.number(),
    reopened: z.number(),
    restarted: z.boolean(),
    message: z.string(),
  }),
  state: StateResponse,
});
export const UpdatesResponse = z.object({
  revision: z.number().int(),
  status: z.enum(STATUSES),
  counters: Counters,
  ended: z.boolean(),
});
export const ReportResponse = z.object({
  generatedAt: z.number(),
  totals: z.object({
    stages: z.number(),
    byStatus: z.record(z.string(), z.number()),
    processed: z.number(),
    successful: z.number(),
    failed: z.number(),
    skipped: z.number(),
    cost: z.number(),
  }),
  stages: z.array(StageSummary),
  broken: z.array(BrokenStage).optional(),
});

const stage = "/v1/stages/:stage";

/** Every /v1 endpoint beyond the raw log. */
export const Stages = {
  list: endpoint({ method: "GET", path: "/v1/stages", query: ListQuery, response: StagesResponse }),
  state: endpoint({
    method: "GET",
    path: stage,
    params: StageParams,
    query: NoQuery,
    response: StateResponse,
  }),
  history: endpoint({
    method: "GET",
    path: `${stage}/history`,
    params: StageParams,
    query: NoQuery,
    response: HistoryResponse,
  }),
  replay: endpoint({
    method: "GET",
    path: `${stage}/events`,
    params: StageParams,
    query: ReplayQuery,
  }),
  watch: endpoint({
    method: "GET",
    path: `${stage}/watch`,
    params: StageParams,
    query: WatchQuery,
  }),
  begin: endpoint({
    method: "POST",
    path: `${stage}/runs`,
    params: StageParams,
    query: NoQuery,
    body: BeginBody,
    response: BeginResponse,
  }),
  updates: endpoint({
    method: "POST",
    path: `${stage}/runs/:runId/updates`,
    params: RunParams,
    query: NoQuery,
    body: UpdatesBody,
    response: UpdatesResponse,
  }),
  release: endpoint({
    method: "DELETE",
    path: `${stage}/runs/:runId`,
    params: RunParams,
    query: NoQuery,
  }),
  reset: endpoint({
    method: "POST",
    path: `${stage}/reset`,
    params: StageParams,
    query: NoQuery,
    body: ResetBody,
    response: StateResponse,
  }),
  delete: endpoint({ method: "DELETE", path: stage, params: StageParams, query: NoQuery }),
  report: endpoint({ method: "GET", path: "/v1/report", query: NoQuery, response: ReportResponse }),
  compact: endpoint({ method: "POST", path: "/v1/compact", query: NoQuery, body: CompactBody }),
  latestCheckpoint: endpoint({
    method: "GET",
    path: `${stage}/checkpoints/latest`,
    params: StageParams,
    query: NoQuery,
    response: CheckpointResponse,
  }),
  checkpoints: endpoint({
    method: "GET",
    path: `${stage}/checkpoints`,
    params: StageParams,
    query: CheckpointsQuery,
    response: CheckpointsResponse,
  }),
  item: endpoint({
    method: "GET",
    path: `${stage}/items/:index`,
    params: ItemParams,
    query: NoQuery,
  }),
  insight: endpoint({
    method: "GET",
    path: `${stage}/insight`,
    params: StageParams,
    query: NoQuery,
  }),
  at: endpoint({ method: "GET", path: `${stage}/at`, params: StageParams, query: AtQuery }),
  live: endpoint({ method: "GET", path: "/v1/watch", query: NoQuery }),
};
