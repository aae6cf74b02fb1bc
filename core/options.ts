/**
 * One zod schema per public entry's options (open, Store, begin, progress, error, unit, compact,
 * …). Parsed with `parseArg`, so a wrong type, null, negative, NaN or unknown key is CKPT_INVALID
 * naming the field, before anything is queued. The hot `done`/`mark` check their index by hand.
 */
import { z } from "zod";
import { Status } from "./state.ts";
import { plainData, plainObject, schemas } from "./validate.ts";

const { count, positive, label } = schemas;
const fn = z.custom<(...args: never[]) => unknown>(
  (v) => typeof v === "function",
  "expected a function",
);
const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, "expected a Uint8Array");
const nonEmpty = z.string().min(1);
const opt = <T extends z.ZodType>(s: T) => s.optional();

/**
 * Store (and open) tuning: every number is a whole number, ≥ 1 where 0 would hang the write path.
 */
export const StoreOptionsSchema = z.object({
  snapshotEvery: opt(positive),
  maxBatch: opt(positive),
  highWater: opt(positive),
  maxRanges: opt(positive),
  sparseTimeoutMs: opt(count),
  staleAfterMs: opt(count),
  platform: opt(z.object({}).loose()),
  // Every member: a clock with only now() would fail later, at the first timer (a lease, a flush).
  clock: opt(z.object({ now: fn, setTimeout: fn, setInterval: fn, clear: fn }).loose()),
});

/** The targets `open()` can choose from; more than one is ambiguous. */
export const OPEN_TARGETS = ["path", "memory", "log", "eventstore", "url"] as const;

export const OpenOptionsSchema = StoreOptionsSchema.extend({
  path: opt(nonEmpty),
  durability: opt(z.enum(["sync", "os"])),
  memory: opt(z.boolean()),
  log: opt(
    z.custom<object>((v) =>
      typeof v === "object" && v !== null &&
      typeof (v as { append?: unknown }).append === "function", "expected an EventLog"),
  ),
  eventstore: opt(nonEmpty),
  eventstorePrefix: opt(z.string()),
  url: opt(nonEmpty),
  token: opt(z.string()),
}).strict().superRefine((o, ctx) => {
  const given = OPEN_TARGETS.filter((
    k,
  ) => (k === "memory" ? o.memory === true : o[k] !== undefined));
  if (given.length > 1) {
    ctx.addIssue({
      code: "custom",
      path: [given[1]!],
      message: `give one target, not ${given.join(" and ")}`,
    });
  }
});

export const BeginOptionsSchema = z.strictObject({
  total: opt(count),
  input: opt(
    z.union([
      nonEmpty,
      bytes,
      z.strictObject({ file: nonEmpty }),
      z.strictObject({ bytes }),
      z.strictObject({ sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex digits") }),
    ]),
  ),
  config: opt(plainData),
  onChange: opt(z.enum(["error", "restart"])),
  verify: opt(fn),
  leaseMs: opt(positive),
  join: opt(z.boolean()),
});

export const ProgressSchema = z.strictObject({
  total: opt(count),
  ok: opt(count),
  failed: opt(count),
  skipped: opt(count),
  cost: opt(z.number().finite().nonnegative()),
  message: opt(label),
});

const errorValue = z.union([label, z.instanceof(Error)]);
export const ErrorArgsSchema = z.tuple([
  errorValue,
  z.strictObject({ retryable: opt(z.boolean()), index: opt(count), item: opt(label) }),
]);
export const FailArgsSchema = z.tuple([
  errorValue,
  z.strictObject({ retryable: opt(z.boolean()) }),
]);
export const MetadataSchema = plainObject;
export const CheckpointOptionsSchema = z.strictObject({
  step: opt(count),
  metadata: opt(plainObject),
});
export const ReasonSchema = opt(label);
export const UnitKeySchema = z.string().min(1).max(256);
export const PageArgsSchema = z.tuple([count, z.strictObject({ records: opt(count) })]);
export const RecordsSchema = z.strictObject({ records: opt(count) });

export const PolicySchema = z.strictObject({
  maxAgeMs: opt(count),
  maxEvents: opt(count),
  minEvents: opt(count),
  stageTtlMs: opt(count),
  keepCheckpoints: opt(count),
  checkpointTtlMs: opt(count),
  prefix: opt(z.string()),
  dryRun: opt(z.boolean()),
});
export const CompactOptionsSchema = z.strictObject({ onProgress: opt(fn) });

const status = z.enum(Object.values(Status) as [Status, ...Status[]]);
export const StagesOptionsSchema = z.strictObject({
  prefix: opt(z.string()),
  status: opt(z.union([status, z.array(status)])),
});
export const ReplayOptionsSchema = z.strictObject({
  from: opt(count),
  to: opt(count),
  since: opt(z.number().finite()),
  until: opt(z.number().finite()),
});
export const WatchOptionsSchema = z.strictObject({
  signal: opt(
    z.custom<AbortSignal>(
      (v) => typeof v === "object" && v !== null && "aborted" in v && "addEventListener" in v,
      "expected an AbortSignal",
    ),
  ),
  pollMs: opt(positive),
});
export const ResetOptionsSchema = z.strictObject({ reason: opt(label) });
export const DeleteOptionsSchema = z.strictObject({
  expectedRevision: opt(z.union([count, z.literal("no_stream"), z.literal("any")])),
});
