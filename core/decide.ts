/**
 * decide: the pure first step of the write path. From a stage's current state and one call (`done`,
 * `progress`, `pause`, `begin`, …) to the events that call appends, or a coded CkptError refusal
 * (CKPT_INVALID for bad arguments, CKPT_BAD_TRANSITION for a call the stage's status does not
 * allow, CKPT_LOCKED / CKPT_INPUT_CHANGED / CKPT_CONFIG_CHANGED for begin). No I/O, no clock, no
 * randomness: the shells (core/run.ts, core/stage.ts) read, decide, then hand the events to the
 * writer.
 */
import { checkpointEvent, type CheckpointOptions } from "./checkpoints.ts";
import { CkptError, ErrorCode } from "./errors.ts";
import { type CkptEvent, parseEvent } from "./events.ts";
import {
  CheckpointOptionsSchema,
  ErrorArgsSchema,
  FailArgsSchema,
  MetadataSchema,
  PageArgsSchema,
  ProgressSchema,
  ReasonSchema,
  RecordsSchema,
  UnitKeySchema,
} from "./options.ts";
import { checkEvents, checkTransition, type Owner, type StageState, type Status } from "./state.ts";
import { parseArg, withoutUndefined } from "./validate.ts";

export interface ItemOptions {
  /** false records a failure (still done: it will not be redone on resume). Default true. */
  ok?: boolean | undefined;
  /** Recorded as deliberately skipped. */
  skipped?: boolean | undefined;
  /** A label for the item: its URL, file, id. */
  item?: string | undefined;
  batch?: string | undefined;
  cost?: number | undefined;
  /** Why it failed (with ok: false). */
  error?: string | undefined;
}

/** `run.progress()`: counts for items without indices, or a new total. */
export interface ProgressOptions {
  total?: number | undefined;
  ok?: number | undefined;
  failed?: number | undefined;
  skipped?: number | undefined;
  cost?: number | undefined;
  message?: string | undefined;
}

/** `run.error()`: an error that did not stop the run. */
export interface ErrorOptions {
  retryable?: boolean | undefined;
  index?: number | undefined;
  item?: string | undefined;
}

/** `run.fail()`, `unit.fail()`. */
export interface FailOptions {
  retryable?: boolean | undefined;
}

/** The default options object: `done(i)` without options takes the shortest path. */
export const NO_OPTIONS: ItemOptions = {};

/** One call on a run or a stage, with its arguments exactly as the caller gave them. */
export type Call =
  | { call: "done" | "mark"; index: number; options?: ItemOptions }
  | { call: "progress"; progress: ProgressOptions }
  | { call: "error"; error: string | Error; options?: ErrorOptions }
  | { call: "checkpoint"; state: unknown; options?: CheckpointOptions }
  | { call: "metadata"; metadata: Record<string, unknown> }
  | { call: "unit.page"; key: string; page: number; options?: { records?: number } }
  | { call: "unit.complete"; key: string; options?: { records?: number } }
  | { call: "unit.fail"; key: string; error: string | Error; options?: FailOptions }
  | { call: "pause"; reason?: string }
  | { call: "resume" }
  | { call: "complete"; metadata?: Record<string, unknown> }
  | { call: "fail"; error: string | Error; options?: FailOptions }
  | { call: "heartbeat"; runId: string }
  | { call: "reset"; reason?: string }
  | { call: "reopen"; indices: readonly number[]; reason: string };

/**
 * The events `call` appends to a stage in `state` at time `now`; throws the call's refusal instead.
 */
export function decide(state: Readonly<StageState>, call: Call, now: number): CkptEvent[] {
  let events: CkptEvent[];
  switch (call.call) {
    case "done":
    case "mark":
      return [
        decideItem(state, call.index, call.options === undefined ? NO_OPTIONS : call.options, now),
      ];
    case "reopen":
      // Indices come from the stage's own resume set: valid by construction, and there may be many.
      events = call.indices.map((index): CkptEvent => ({
        type: "item.reopened",
        v: 1,
        at: now,
        index,
        reason: call.reason,
      }));
      break;
    default:
      events = [parseEvent({ v: 1, at: now, ...build(call) })];
  }
  checkEvents(state, events);
  return events;
}

/**
 * The hot path of `done`/`mark`: one item event, checked by hand rather than through zod (it runs
 * millions of times).
 */
export function decideItem(
  state: Readonly<StageState>,
  index: number,
  o: ItemOptions,
  now: number,
): CkptEvent {
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new CkptError(
      ErrorCode.INVALID,
      `Item index must be a non-negative integer, got ${String(index)}.`,
      {
        issues: [{ path: ["index"], message: "expected a non-negative safe integer" }],
      },
    );
  }
  let event: CkptEvent;
  if (o === NO_OPTIONS) event = { type: "item", v: 1, at: now, index, outcome: "ok" };
  else if (typeof o !== "object" || o === null || Array.isArray(o)) {
    throw new CkptError(
      ErrorCode.INVALID,
      `Item options must be an object such as { item: "url" }, got ${
        o === null ? "null" : typeof o
      }.`,
      {
        issues: [{ path: ["options"], message: "expected an object" }],
      },
    );
  } else event = itemEvent(index, o, now);
  if (state.status !== "running") checkTransition(state as StageState, event);
  return event;
}

/** Builds the event body of a call (checking its arguments: CKPT_INVALID), before `v` and `at`. */
function build(c: Exclude<Call, { call: "done" | "mark" | "reopen" }>): Record<string, unknown> {
  switch (c.call) {
    case "progress":
      return {
        type: "progress",
        ...withoutUndefined(parseArg(ProgressSchema, c.progress, "run.progress()")),
      };
    case "error": {
      const o = given(c.options);
      parseArg(ErrorArgsSchema, [c.error, o], "run.error()");
      return {
        type: "error",
        message: messageOf(c.error),
        retryable: o.retryable ?? false,
        ...pick(o, "index", "item"),
      };
    }
    case "checkpoint":
      return checkpointEvent(
        c.state,
        parseArg(CheckpointOptionsSchema, given(c.options), "run.checkpoint()"),
      );
    case "metadata":
      return {
        type: "metadata",
        metadata: withoutUndefined(parseArg(MetadataSchema, c.metadata, "run.metadata()")),
      };
    case "unit.page": {
      const o = given(c.options);
      parseArg(UnitKeySchema, c.key, "run.unit(key)");
      parseArg(PageArgsSchema, [c.page, o], "unit.page()");
      return { type: "unit", key: c.key, status: "running", page: c.page, ...pick(o, "records") };
    }
    case "unit.complete": {
      const o = given(c.options);
      parseArg(UnitKeySchema, c.key, "run.unit(key)");
      parseArg(RecordsSchema, o, "unit.complete()");
      return { type: "unit", key: c.key, status: "complete", ...pick(o, "records") };
    }
    case "unit.fail": {
      const o = given(c.options);
      parseArg(UnitKeySchema, c.key, "run.unit(key)");
      parseArg(FailArgsSchema, [c.error, o], "unit.fail()");
      return {
        type: "unit",
        key: c.key,
        status: "failed",
        error: messageOf(c.error),
        retryable: o.retryable ?? true,
      };
    }
    case "pause":
      return {
        type: "paused",
        ...(parseArg(ReasonSchema, c.reason, "run.pause(reason)") === undefined
          ? {}
          : { reason: c.reason }),
      };
    case "resume":
      return { type: "resumed" };
    case "complete":
      return {
        type: "completed",
        ...(c.metadata === undefined ? {} : {
          metadata: withoutUndefined(
            parseArg(MetadataSchema, c.metadata, "run.complete(metadata)"),
          ),
        }),
      };
    case "fail": {
      const o = given(c.options);
      parseArg(FailArgsSchema, [c.error, o], "run.fail()");
      return { type: "failed", message: messageOf(c.error), ...pick(o, "retryable") };
    }
    case "heartbeat":
      return { type: "heartbeat", runId: c.runId };
    case "reset":
      return { type: "reset", ...(c.reason ? { reason: c.reason } : {}) };
  }
}

/**
 * What `begin` knows when it decides: the caller's options with input and config already digested,
 * and the process's facts.
 */
export interface BeginCall {
  total?: number;
  /** SHA-256 of the input, when one was given. */
  input?: string;
  /** Digest of the canonical config, when one was given. */
  config?: string;
  onChange?: "error" | "restart";
  join?: boolean;
  leaseMs?: number;
  /** The log is shared by several processes: leases apply. */
  multiProcess: boolean;
  /**
   * The stage's current run belongs to this store and ended with lost updates: it is gone, whatever
   * its lease says.
   */
  abandoned: boolean;
  /** The new run's id and owner (chosen by the shell: decide draws no random numbers). */
  runId: string;
  owner: Owner;
}

export type BeginDecision =
  /** Another worker's run is live and `join` was asked: work under it, append nothing. */
  | { kind: "join"; from: Status; runId: string; leaseMs: number }
  /** Append `events` (crash detected?, reset?, run started) and run as `runId`. */
  | {
    kind: "start";
    from: Status;
    events: CkptEvent[];
    runId: string;
    leaseMs: number | undefined;
    crashed: boolean;
    restarted: boolean;
  };

export const DEFAULT_LEASE_MS = 30_000;

/**
 * begin's decision: a stage left running by a process that is gone gets a crash-detected event
 * first; a live lease is CKPT_LOCKED (or joined); a changed input or config is refused unless
 * `onChange: "restart"`, which resets the stage first.
 */
export function decideBegin(st: Readonly<StageState>, o: BeginCall, now: number): BeginDecision {
  const events: CkptEvent[] = [];
  const from = st.status;
  let crashed = false;
  if (st.status === "running" || st.status === "recovering") {
    const lease = st.run?.leaseMs;
    if (
      o.multiProcess && lease && st.updatedAt !== null && now - st.updatedAt < lease && !o.abandoned
    ) {
      if (o.join && st.status === "running" && st.run) {
        return { kind: "join", from, runId: st.run.id, leaseMs: lease };
      }
      const owner = st.run?.owner;
      throw new CkptError(
        ErrorCode.LOCKED,
        `Stage "${st.stage}" is owned by run ${st.run?.id}${
          owner ? ` (pid ${owner.pid} on ${owner.host})` : ""
        }, last heard from ${
          now - st.updatedAt
        } ms ago; its lease lasts ${lease} ms. Try again after it expires.`,
        { details: { stage: st.stage, owner, runId: st.run?.id } },
      );
    }
    crashed = true;
    events.push({
      type: "crash.detected",
      v: 1,
      at: now,
      ...(st.run ? { runId: st.run.id } : {}),
      ...(st.run?.owner ? { owner: st.run.owner } : {}),
      reason: "the previous run stopped without pausing, completing or failing",
    });
  }
  let restarted = false;
  const changed = changedFingerprint(st, o.input, o.config);
  if (changed) {
    if (o.onChange !== "restart") throw changeError(st.stage, changed);
    events.push({ type: "reset", v: 1, at: now, reason: `${changed.what} changed` });
    restarted = true;
  }
  const leaseMs = o.multiProcess ? o.leaseMs ?? DEFAULT_LEASE_MS : undefined;
  events.push({
    type: "run.started",
    v: 1,
    at: now,
    runId: o.runId,
    owner: o.owner,
    ...(o.total !== undefined ? { total: o.total } : {}),
    ...(o.input !== undefined ? { input: o.input } : {}),
    ...(o.config !== undefined ? { config: o.config } : {}),
    ...(leaseMs !== undefined ? { leaseMs } : {}),
  });
  return { kind: "start", from, events, runId: o.runId, leaseMs, crashed, restarted };
}

function changedFingerprint(
  st: Readonly<StageState>,
  input: string | undefined,
  config: string | undefined,
) {
  if (input !== undefined && st.input !== null && st.input !== input) {
    return { what: "input" as const, was: st.input, now: input };
  }
  if (config !== undefined && st.config !== null && st.config !== config) {
    return { what: "config" as const, was: st.config, now: config };
  }
  return undefined;
}

function changeError(
  stage: string,
  c: { what: "input" | "config"; was: string; now: string },
): CkptError {
  return new CkptError(
    c.what === "input" ? ErrorCode.INPUT_CHANGED : ErrorCode.CONFIG_CHANGED,
    `Stage "${stage}" was started with a different ${c.what} (sha256 ${c.was.slice(0, 12)}…, now ${
      c.now.slice(0, 12)
    }…). ` +
      `Its progress refers to the old ${c.what}. Restore the old ${c.what}, or start over with begin({ onChange: "restart" }) or \`ckpt reset ${stage}\`.`,
    { details: { stage, was: c.was, now: c.now } },
  );
}

/**
 * The item event for options other than the default; mirrors the `item` schema exactly (a test
 * holds the two to the same verdicts).
 */
function itemEvent(index: number, o: ItemOptions, at: number): CkptEvent {
  const outcome = o.skipped ? "skipped" : o.ok === false ? "failed" : "ok";
  const e: Record<string, unknown> = { type: "item", v: 1, at, index, outcome };
  if (o.item !== undefined) e.item = o.item;
  if (o.batch !== undefined) e.batch = o.batch;
  if (o.cost !== undefined) e.cost = o.cost;
  if (o.error !== undefined) e.error = o.error;
  if (
    (o.item === undefined || (typeof o.item === "string" && o.item.length <= 2048)) &&
    (o.batch === undefined || (typeof o.batch === "string" && o.batch.length <= 256)) &&
    (o.cost === undefined ||
      (typeof o.cost === "number" && Number.isFinite(o.cost) && o.cost >= 0)) &&
    (o.error === undefined || (typeof o.error === "string" && o.error.length <= 2048)) &&
    (o.ok === undefined || typeof o.ok === "boolean") &&
    (o.skipped === undefined || typeof o.skipped === "boolean")
  ) {
    return e as CkptEvent;
  }
  for (const k of ["ok", "skipped"] as const) {
    if (o[k] !== undefined && typeof o[k] !== "boolean") {
      throw new CkptError(
        ErrorCode.INVALID,
        `Item option "${k}" must be a boolean, got ${JSON.stringify(o[k])}.`,
        {
          issues: [{ path: [k], message: "expected boolean" }],
        },
      );
    }
  }
  // Let the schema name every other problem.
  return parseEvent(e);
}

/** Options left out are empty; a `null` given is kept, so the schema refuses it. */
function given<T extends object>(o: T | undefined): T {
  return o === undefined ? ({} as T) : o;
}

function messageOf(error: string | Error): string {
  const m = typeof error === "string" ? error : error?.message ?? String(error);
  return m.length > 2048 ? m.slice(0, 2045) + "..." : m;
}

function pick<T extends object, K extends keyof T>(o: T, ...keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
