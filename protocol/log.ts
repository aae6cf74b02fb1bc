/**
 * The raw event log over HTTP (/v1/log): what adapters/http.ts sends and reads so a worker's own
 * Store can use the sidecar as its EventLog, and what server/routes/log.ts accepts and answers.
 * Response schemas are plain objects (unknown fields are dropped, not refused), so a newer sidecar
 * may add fields without breaking older clients; request schemas are strict.
 */
import { z } from "zod";
import { CkptEvent, StageName } from "../core/events.ts";
import type { RecordedEvent, Snapshot, StreamInfo, Supports } from "../core/log.ts";
import { endpoint, nat, NoQuery } from "./common.ts";

export const StreamParams = z.strictObject({ stream: StageName });

export const ReadQuery = z.strictObject({
  from: nat("from").optional(),
  direction: z.enum(["forward", "backward"]).optional(),
  limit: nat("limit").optional(),
});
export const PrefixQuery = z.strictObject({ prefix: z.string().max(200).optional() });
export const SnapshotQuery = z.strictObject({ which: z.enum(["latest", "base"]).optional() });

export const SnapshotBody = z.strictObject({
  revision: z.number().int().nonnegative(),
  version: z.number().int().nonnegative(),
  state: z.unknown().refine((v) => v !== undefined, "state is required"),
});
export const AppendBody = z.strictObject({
  events: z.array(CkptEvent),
  snapshot: SnapshotBody.optional(),
});
export const TruncateBody = z.strictObject({
  revision: z.number().int().nonnegative(),
  base: SnapshotBody,
});

export const StreamInfoResponse = z.object({
  stream: z.string(),
  head: z.number().int(),
  first: z.number().int(),
  updatedAt: z.number(),
}) satisfies z.ZodType<StreamInfo>;
export const StreamsResponse = z.object({ streams: z.array(StreamInfoResponse) });
export const HeadResponse = z.object({ head: z.number().int() });
export const SnapshotResponse = z.object({
  revision: z.number().int().nonnegative(),
  version: z.number().int().nonnegative(),
  state: z.unknown().refine((v) => v !== undefined, "state is required"),
}) satisfies z.ZodType<Snapshot>;
export const LogInfoResponse = z.object({
  supports: z.object({
    durable: z.boolean(),
    multiProcess: z.boolean(),
    atomicSnapshot: z.boolean(),
    reclaimsSpace: z.boolean(),
  }) satisfies z.ZodType<Supports>,
  limits: z.object({ bodyLimit: z.number(), logBodyLimit: z.number() }),
  server: z.string(),
});
export const RecordedEventLine = z.object({
  revision: z.number().int().nonnegative(),
  event: CkptEvent,
}).describe("one JSON object per line") satisfies z.ZodType<RecordedEvent>;

const stream = "/v1/log/streams/:stream";

/** Every /v1/log endpoint, by what the EventLog method it serves is called. */
export const Log = {
  info: endpoint({ method: "GET", path: "/v1/log", query: NoQuery, response: LogInfoResponse }),
  streams: endpoint({
    method: "GET",
    path: "/v1/log/streams",
    query: PrefixQuery,
    response: StreamsResponse,
  }),
  stream: endpoint({
    method: "GET",
    path: stream,
    params: StreamParams,
    query: NoQuery,
    response: StreamInfoResponse,
  }),
  read: endpoint({
    method: "GET",
    path: `${stream}/events`,
    params: StreamParams,
    query: ReadQuery,
    response: RecordedEventLine,
  }),
  append: endpoint({
    method: "POST",
    path: `${stream}/events`,
    params: StreamParams,
    query: NoQuery,
    body: AppendBody,
    response: HeadResponse,
  }),
  loadSnapshot: endpoint({
    method: "GET",
    path: `${stream}/snapshot`,
    params: StreamParams,
    query: SnapshotQuery,
    response: SnapshotResponse,
  }),
  saveSnapshot: endpoint({
    method: "PUT",
    path: `${stream}/snapshot`,
    params: StreamParams,
    query: NoQuery,
    body: SnapshotBody,
  }),
  truncate: endpoint({
    method: "POST",
    path: `${stream}/truncate`,
    params: StreamParams,
    query: NoQuery,
    body: TruncateBody,
  }),
  delete: endpoint({ method: "DELETE", path: stream, params: StreamParams, query: NoQuery }),
};
