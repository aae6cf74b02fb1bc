/**
 * State checkpoints: loops with no item index (training, iterative synthesis) save "step 5, here is
 * my state" as a `checkpoint` event and, after a crash, load the latest. The state lives in the
 * event, not in StageState, so the resume point stays small; reads walk the log backward from the
 * head and stop at a reset (checkpoints from before a reset belong to the old run of the stage).
 * Retention keeps the last N (and, with a TTL, only young ones), and never the latest.
 */
import { Packr } from "msgpackr";
import { CkptError, ErrorCode } from "./errors.ts";
import type { EventOf } from "./events.ts";
import type { EventLog, StreamInfo } from "./log.ts";

/** Largest checkpoint state, as msgpack (the sidecar's 1 MiB body limit carries one as JSON). */
export const MAX_CHECKPOINT_BYTES = 1024 * 1024;
/** Checkpoints compaction keeps per stage when the policy does not say. */
export const DEFAULT_KEEP_CHECKPOINTS = 10;

export interface CheckpointOptions {
  /** The loop's own counter (iteration, epoch); a non-negative integer. */
  step?: number | undefined;
  metadata?: Record<string, unknown> | undefined;
}

/** A saved checkpoint without its state, as `stage.checkpoints()` lists them (newest first). */
export interface CheckpointInfo {
  revision: number;
  at: number;
  step: number | null;
  metadata: Record<string, unknown>;
  /** Size of the state as msgpack. */
  bytes: number;
}

export interface Checkpoint<T = unknown> extends CheckpointInfo {
  state: T;
}

const packr = new Packr({ useRecords: false });

/**
 * The checkpoint event for `state`, or CKPT_TOO_LARGE / CKPT_INVALID before anything is written.
 * @example run.checkpoint({ weights, lr }, { step: 5 }) // Run builds its event with this
 */
export function checkpointEvent(
  state: unknown,
  o: CheckpointOptions = {},
): Omit<EventOf<"checkpoint">, "v" | "at"> {
  if (state === undefined) {
    throw new CkptError(
      ErrorCode.INVALID,
      "checkpoint(): state is required (any msgpack-able value).",
      { issues: [{ path: ["state"], message: "required" }] },
    );
  }
  if (o.step !== undefined && (!Number.isSafeInteger(o.step) || o.step < 0)) {
    throw new CkptError(
      ErrorCode.INVALID,
      `checkpoint(): step must be a non-negative integer, got ${String(o.step)}.`,
      { issues: [{ path: ["step"], message: "expected a non-negative integer" }] },
    );
  }
  let bytes: number;
  try {
    bytes = packr.pack(state).length;
  } catch (e) {
    throw new CkptError(
      ErrorCode.INVALID,
      `checkpoint(): the state cannot be encoded as msgpack (${(e as Error).message}).`,
      { issues: [{ path: ["state"], message: "not msgpack-able" }] },
    );
  }
  // Walked only once packing succeeded, so never around a cycle.
  const fnAt = functionIn(state, ["state"]);
  if (fnAt) {
    throw new CkptError(
      ErrorCode.INVALID,
      `checkpoint(): ${
        fnAt.join(".")
      } is a function, which msgpack would save as nothing; checkpoint data, not code.`,
      { issues: [{ path: fnAt, message: "a function" }] },
    );
  }
  if (bytes > MAX_CHECKPOINT_BYTES) {
    throw new CkptError(
      ErrorCode.TOO_LARGE,
      `checkpoint(): the state is ${bytes} bytes as msgpack, over the ${MAX_CHECKPOINT_BYTES}-byte limit. Save large artefacts (weights, files) elsewhere and checkpoint their path.`,
      { details: { bytes, limit: MAX_CHECKPOINT_BYTES } },
    );
  }
  return {
    type: "checkpoint",
    state,
    bytes,
    ...(o.step !== undefined ? { step: o.step } : {}),
    ...(o.metadata ? { metadata: o.metadata } : {}),
  };
}

/** Where `v` holds a function (msgpackr packs one silently, as nothing), or undefined. */
function functionIn(v: unknown, path: (string | number)[]): (string | number)[] | undefined {
  if (typeof v === "function") return path;
  if (v === null || typeof v !== "object" || ArrayBuffer.isView(v)) return undefined;
  const entries: [string | number, unknown][] = v instanceof Map
    ? [...v].map(([k, x]) => [String(k), x])
    : v instanceof Set
    ? [...v].map((x, i) => [i, x])
    : Object.entries(v);
  for (const [k, x] of entries) {
    const at = functionIn(x, [...path, k]);
    if (at) return at;
  }
  return undefined;
}

function toCheckpoint(revision: number, e: EventOf<"checkpoint">): Checkpoint {
  return {
    revision,
    at: e.at,
    step: e.step ?? null,
    metadata: e.metadata ?? {},
    bytes: e.bytes,
    state: e.state,
  };
}

/** The newest checkpoints of `stream` (since its last reset), newest first, at most `limit`. */
export async function readCheckpoints(
  log: EventLog,
  stream: string,
  limit: number,
): Promise<Checkpoint[]> {
  const out: Checkpoint[] = [];
  if (limit <= 0) return out;
  for await (const { revision, event } of log.read(stream, { direction: "backward" })) {
    if (event.type === "reset") break;
    if (event.type !== "checkpoint") continue;
    out.push(toCheckpoint(revision, event));
    if (out.length >= limit) break;
  }
  return out;
}

/**
 * `stage.checkpoints(options)`'s limit: an options object (or nothing) with a positive integer
 * limit, else CKPT_INVALID.
 */
export function checkpointsLimit(options: unknown): number {
  if (
    options !== undefined &&
    (options === null || typeof options !== "object" || Array.isArray(options))
  ) {
    throw new CkptError(
      ErrorCode.INVALID,
      `checkpoints(): options must be an object like { limit: 10 }, got ${
        options === null ? "null" : typeof options
      }.`,
      { issues: [{ path: [], message: "expected an object" }] },
    );
  }
  return checkLimit((options as { limit?: unknown } | undefined)?.limit);
}

export function checkLimit(limit: unknown): number {
  if (limit === undefined) return 100;
  if (typeof limit !== "number" || !Number.isSafeInteger(limit) || limit < 1) {
    throw new CkptError(
      ErrorCode.INVALID,
      `checkpoints(): limit must be a positive integer, got ${String(limit)}.`,
      { issues: [{ path: ["limit"], message: "expected a positive integer" }] },
    );
  }
  return limit;
}

export const infoOf = ({ state: _state, ...info }: Checkpoint): CheckpointInfo => info;

/** The retention policy's checkpoint fields (part of RetentionPolicy). */
export interface CheckpointRetention {
  /** Keep at most this many checkpoints per stage (default 10); the latest is always kept. */
  keepCheckpoints?: number | undefined;
  /** Checkpoints older than this (ms) go, except the latest. */
  checkpointTtlMs?: number | undefined;
}

/**
 * Adjusts a compaction cut (events before it go) for checkpoints: it never passes the oldest
 * checkpoint kept, and when the policy names a checkpoint rule, checkpoints beyond that rule are
 * themselves a reason to cut, up to the oldest one kept (and never into the last `minEvents`).
 */
export async function cutForCheckpoints(
  log: EventLog,
  info: StreamInfo,
  p: CheckpointRetention,
  now: number,
  cut: number,
  keepFrom: number,
): Promise<number> {
  const keep = Math.max(1, p.keepCheckpoints ?? DEFAULT_KEEP_CHECKPOINTS);
  const horizon = p.checkpointTtlMs === undefined ? -Infinity : now - p.checkpointTtlMs;
  let kept = 0;
  let oldestKept: number | undefined;
  let dropped = false;
  for await (const { revision, event } of log.read(info.stream, { direction: "backward" })) {
    if (event.type === "reset") break;
    if (event.type !== "checkpoint") continue;
    if (kept === 0 || (kept < keep && event.at >= horizon)) {
      kept++;
      oldestKept = revision;
    } else {
      dropped = true;
      break;
    }
  }
  const explicit = p.keepCheckpoints !== undefined || p.checkpointTtlMs !== undefined;
  if (explicit && dropped && oldestKept !== undefined) {
    cut = Math.max(cut, Math.min(oldestKept, keepFrom));
  }
  if (oldestKept !== undefined) cut = Math.min(cut, oldestKept);
  return Math.max(info.first, cut);
}

/** Throws CKPT_INVALID for bad checkpoint retention fields. */
export function checkCheckpointRetention(p: CheckpointRetention): void {
  for (const k of ["keepCheckpoints", "checkpointTtlMs"] as const) {
    const v = p[k];
    if (v !== undefined && (!Number.isSafeInteger(v) || v < (k === "keepCheckpoints" ? 1 : 0))) {
      throw new CkptError(
        ErrorCode.INVALID,
        `Retention policy: ${k} must be a ${
          k === "keepCheckpoints" ? "positive" : "non-negative"
        } integer, got ${String(v)}.`,
        {
          issues: [{ path: [k], message: "expected an integer" }],
        },
      );
    }
  }
}
