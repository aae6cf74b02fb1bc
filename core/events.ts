/**
 * The events a stage's log holds: one zod schema per type, each versioned (`v`) so later
 * releases can upcast old events. Anything that does not match is refused before it is written.
 */
import { z } from "zod";
import { CkptError, ErrorCode } from "./errors.ts";
import { invalid, issuesOf } from "./validate.ts";
import type { CkptEvent as CkptEventType, Outcome as OutcomeType } from "./event-types.ts";

const at = z.number().int().nonnegative();
const label = z.string().max(2048);
const index = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const count = z.number().int().nonnegative();
const cost = z.number().finite().nonnegative();
const metadata = z.record(z.string().max(200), z.unknown());
const owner = z.strictObject({
  host: z.string().max(255),
  pid: z.number().int(),
  runId: z.string().max(64),
});

/** The outcome of one item: it succeeded, failed for good, or was deliberately skipped. */
export const Outcome: z.ZodEnum<{ ok: "ok"; failed: "failed"; skipped: "skipped" }> = z.enum([
  "ok",
  "failed",
  "skipped",
]);
export type Outcome = OutcomeType;

function event<T extends string, S extends z.ZodRawShape>(type: T, shape: S) {
  return z.strictObject({ type: z.literal(type), v: z.literal(1), at, ...shape });
}

export const RunStarted = event("run.started", {
  runId: z.string().min(1).max(64),
  owner: owner.optional(),
  total: count.optional(),
  /** SHA-256 (hex) of the input file or bytes the run works through. */
  input: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  /** SHA-256 (hex) of the config as canonical JSON. */
  config: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  /** How long (ms) the owner may stay silent before another process may take the stage over. */
  leaseMs: z.number().int().positive().optional(),
});

export const ItemDone = event("item", {
  index,
  outcome: Outcome,
  item: label.optional(),
  batch: z.string().max(256).optional(),
  cost: cost.optional(),
  error: label.optional(),
});

export const ItemReopened = event("item.reopened", { index, reason: label.optional() });

export const Progress = event("progress", {
  total: count.optional(),
  /** Items counted without an index (for pipelines that only count). */
  ok: count.optional(),
  failed: count.optional(),
  skipped: count.optional(),
  cost: cost.optional(),
  message: label.optional(),
});

export const UnitUpdated = event("unit", {
  key: z.string().min(1).max(512),
  status: z.enum(["running", "complete", "failed"]),
  /** Last page fully written; resume from the next one. */
  page: count.optional(),
  records: count.optional(),
  retryable: z.boolean().optional(),
  error: label.optional(),
});

export const ErrorRecorded = event("error", {
  message: label,
  retryable: z.boolean(),
  index: index.optional(),
  item: label.optional(),
});

export const Paused = event("paused", { reason: label.optional() });
export const Resumed = event("resumed", {});
export const CrashDetected = event("crash.detected", {
  runId: z.string().max(64).optional(),
  owner: owner.optional(),
  reason: label.optional(),
});
export const Completed = event("completed", { metadata: metadata.optional() });
export const Failed = event("failed", { message: label, retryable: z.boolean().optional() });
export const Reset = event("reset", { reason: label.optional() });
export const MetadataSet = event("metadata", { metadata });
export const Heartbeat = event("heartbeat", { runId: z.string().max(64) });
/** A state checkpoint (core/checkpoints.ts): any msgpack-able value a loop saves to resume from. */
export const CheckpointSaved = event("checkpoint", {
  step: count.optional(),
  metadata: metadata.optional(),
  /** Size of `state` as msgpack, checked against the limit before anything is written. */
  bytes: count,
  state: z.unknown().refine((v) => v !== undefined, "state is required"),
});

const eventSchema = z.discriminatedUnion("type", [
  RunStarted,
  ItemDone,
  ItemReopened,
  Progress,
  UnitUpdated,
  ErrorRecorded,
  Paused,
  Resumed,
  CrashDetected,
  Completed,
  Failed,
  Reset,
  MetadataSet,
  Heartbeat,
  CheckpointSaved,
]);
/**
 * The schema of every event; its type is written out in event-types.ts (explicit published types).
 * Optional fields use zod's `optional()`, whose inferred type also admits `undefined`: the written
 * types are exact (no undefined key is ever stored), and `exactOptional()` would say so at run time
 * too but validates about 40% slower, on the sidecar's raw append path. So the schema is cast to the
 * exact type, and the check below compares them with `undefined` taken out of the optional fields.
 */
export const CkptEvent = eventSchema as unknown as z.ZodType<CkptEventType>;
export type CkptEvent = CkptEventType;
// Compile-time: the schema and the written-out types describe exactly the same events, field for
// field (assignable both ways, and the same keys per event type, so an optional field added to one
// side counts too).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Exact<T> = T extends object ? { [K in keyof T]: Exclude<T[K], undefined> } : T;
type Inferred = Exact<z.infer<typeof eventSchema>>;
type SameKeys = {
  [T in EventType]: Same<
    keyof Extract<Inferred, { type: T }>,
    keyof Extract<CkptEventType, { type: T }>
  >;
}[EventType];
const schemaMatchesTypes: [Same<Inferred, CkptEventType>, Same<SameKeys, true>] = [true, true];
void schemaMatchesTypes;
export type EventType = CkptEvent["type"];
export type EventOf<T extends EventType> = Extract<CkptEvent, { type: T }>;

/** Every event type, in schema order. */
export const EVENT_TYPES: readonly EventType[] = eventSchema.options.map((o) => o.shape.type.value);

/** The event as callers pass it: `v` and `at` are filled in by ckpt. */
export type NewEvent = {
  [T in EventType]: Omit<EventOf<T>, "v" | "at"> & { at?: number };
}[EventType];

/**
 * Parses an untrusted value into an event, or throws CKPT_INVALID listing every problem.
 * @example parseEvent({ type: "item", v: 1, at: Date.now(), index: 3, outcome: "ok" })
 */
export function parseEvent(value: unknown): CkptEvent {
  const r = CkptEvent.safeParse(value);
  if (r.success) return r.data;
  throw invalid("Invalid event", issuesOf(r.error), "");
}

/** Stage names: what a file name, URL segment and EventStoreDB stream can all hold safely. */
export const StageName = z
  .string()
  .min(1, "stage name is empty")
  .max(200, "stage name is longer than 200 characters")
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:@=+-]*$/,
    "stage names use letters, digits and . _ : @ = + - and start with a letter or digit",
  )
  .refine((s) => !s.includes(".."), "stage names may not contain '..'");

/**
 * Names found valid, kept: a writer's log checks its stage's name on every append, and the schema
 * (a pure check of a string) gives a name the same verdict every time.
 */
const validNames = new Set<string>();
const VALID_NAMES_KEPT = 1000;

/** Throws CKPT_INVALID unless `name` is a valid stage name. */
export function checkStageName(name: unknown): string {
  if (typeof name === "string" && validNames.has(name)) return name;
  const r = StageName.safeParse(name);
  if (r.success) {
    if (validNames.size >= VALID_NAMES_KEPT) validNames.clear();
    validNames.add(r.data);
    return r.data;
  }
  const issues = issuesOf(r.error).map((i) => ({ ...i, path: ["stage", ...i.path] }));
  throw new CkptError(
    ErrorCode.INVALID,
    `Invalid stage name ${JSON.stringify(name)}: ${issues.map((i) => i.message).join("; ")}.`,
    { issues },
  );
}
