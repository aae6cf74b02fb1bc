/**
 * The current-state projection: a pure reducer `evolve(state, event)` and its in-place twin
 * `apply`, which bulk replays use on a private copy so folding a million events does not
 * allocate a million states. Both share one code path, so they cannot disagree.
 */
import type { CkptEvent } from "./events.ts";
import type { ItemEvent } from "./event-types.ts";
import { CkptError, ErrorCode } from "./errors.ts";
import { add, type DoneSet, emptyDoneSet, has, remove } from "./resume-set.ts";

/** Bump when `apply` changes meaning: snapshots of another version are ignored (full replay). */
export const REDUCER_VERSION = 1;

export const Status = {
  initialized: "initialized",
  running: "running",
  paused: "paused",
  completed: "completed",
  failed: "failed",
  recovering: "recovering",
} as const;
export type Status = (typeof Status)[keyof typeof Status];

export interface UnitState {
  status: "running" | "complete" | "failed";
  /** Last page fully written (resume from page + 1), or null before the first. */
  page: number | null;
  records: number;
  retryable: boolean | null;
  error: string | null;
  updatedAt: number;
}

export interface Owner {
  host: string;
  pid: number;
  runId: string;
}

export interface CurrentRun {
  id: string;
  owner: Owner | null;
  startedAt: number;
  /** `counters.processed` when the run started, for this run's throughput. */
  processedAtStart: number;
  leaseMs: number | null;
}

export interface StageState {
  stage: string;
  /** Revision of the last event folded in; -1 for a stage with no events. */
  revision: number;
  status: Status;
  total: number | null;
  counters: {
    processed: number;
    successful: number;
    failed: number;
    skipped: number;
    duplicates: number;
    reopened: number;
  };
  resume: DoneSet & { lastIndex: number | null; lastItem: string | null; batch: string | null };
  units: Record<string, UnitState>;
  errors: {
    count: number;
    lastMessage: string | null;
    lastAt: number | null;
    retryable: boolean | null;
  };
  /** Accumulated over every run; a resumed run adds, never resets. */
  cost: number;
  metadata: Record<string, unknown>;
  /** SHA-256 of the input and of the canonical config the stage was started with. */
  input: string | null;
  config: string | null;
  run: CurrentRun | null;
  runs: number;
  createdAt: number | null;
  startedAt: number | null;
  updatedAt: number | null;
  finishedAt: number | null;
}

export function initialState(stage: string): StageState {
  return {
    stage,
    revision: -1,
    status: Status.initialized,
    total: null,
    counters: { processed: 0, successful: 0, failed: 0, skipped: 0, duplicates: 0, reopened: 0 },
    resume: { ...emptyDoneSet(), lastIndex: null, lastItem: null, batch: null },
    units: {},
    errors: { count: 0, lastMessage: null, lastAt: null, retryable: null },
    cost: 0,
    metadata: {},
    input: null,
    config: null,
    run: null,
    runs: 0,
    createdAt: null,
    startedAt: null,
    updatedAt: null,
    finishedAt: null,
  };
}

/** A deep copy: states are plain data (no Dates, Maps or class instances). */
export function cloneState(s: StageState): StageState {
  const units: Record<string, UnitState> = {};
  for (const k in s.units) units[k] = { ...s.units[k]! };
  return {
    ...s,
    counters: { ...s.counters },
    resume: { ...s.resume, ranges: s.resume.ranges.slice() },
    units,
    errors: { ...s.errors },
    metadata: structuredClone(s.metadata),
    run: s.run && { ...s.run, owner: s.run.owner && { ...s.run.owner } },
  };
}

const ANY: readonly Status[] = Object.values(Status);
const ACTIVE: readonly Status[] = [Status.running];

/** Which statuses each event may be applied in. */
export const ALLOWED_FROM: Record<CkptEvent["type"], readonly Status[]> = {
  "run.started": [
    Status.initialized,
    Status.paused,
    Status.completed,
    Status.failed,
    Status.recovering,
  ],
  item: ACTIVE,
  "item.reopened": [
    Status.running,
    Status.recovering,
    Status.paused,
    Status.completed,
    Status.failed,
  ],
  progress: ACTIVE,
  unit: ACTIVE,
  error: [Status.running, Status.recovering, Status.paused],
  paused: [Status.running],
  resumed: [Status.paused],
  "crash.detected": [Status.running, Status.recovering],
  completed: [Status.running],
  failed: [Status.running, Status.paused, Status.recovering],
  reset: ANY,
  metadata: ANY,
  heartbeat: ACTIVE,
  checkpoint: ACTIVE,
};

/** The status after `event`, or the same status for events that do not change it. */
export function nextStatus(from: Status, event: CkptEvent): Status {
  switch (event.type) {
    case "run.started":
    case "resumed":
      return Status.running;
    case "paused":
      return Status.paused;
    case "crash.detected":
      return Status.recovering;
    case "completed":
      return Status.completed;
    case "failed":
      return Status.failed;
    case "reset":
      return Status.initialized;
    default:
      return from;
  }
}

/**
 * Throws CKPT_BAD_TRANSITION when `event` is not allowed in `state`'s status (CKPT_CORRUPT for a
 * type no schema knows).
 */
/**
 * Checks that `events` fit `state` in order (all or nothing): CKPT_BAD_TRANSITION naming the first
 * that does not. decide refuses with it; the writer checks again when it queues, against the state
 * it projects.
 */
export function checkEvents(state: Readonly<StageState>, events: readonly CkptEvent[]): void {
  let status = state.status;
  for (const e of events) {
    if (!ALLOWED_FROM[e.type]?.includes(status)) {
      checkTransition({ ...(state as StageState), status }, e);
    }
    status = nextStatus(status, e);
  }
}

export function checkTransition(state: StageState, event: CkptEvent): void {
  const from = ALLOWED_FROM[event.type] as readonly string[] | undefined;
  if (from?.includes(state.status)) return;
  // Stored events are not re-validated on every read (replay is hot): a type no schema knows is
  // damage.
  if (from === undefined) {
    throw new CkptError(
      ErrorCode.CORRUPT,
      `Stage "${state.stage}" holds an event of unknown type ${
        JSON.stringify(event.type)
      } after revision ${state.revision}; run \`ckpt verify\`.`,
      {
        details: { stage: state.stage, revision: state.revision + 1 },
      },
    );
  }
  const allowed = from.join(", ");
  throw new CkptError(
    ErrorCode.BAD_TRANSITION,
    `Stage "${state.stage}" is ${state.status}; "${event.type}" is only allowed when it is ${allowed}.` +
      (state.status === Status.initialized || state.status === Status.completed ||
          state.status === Status.failed
        ? " Call stage.begin() to start a run first."
        : ""),
    { details: { stage: state.stage, status: state.status, event: event.type } },
  );
}

/**
 * Applies `event` to `s` IN PLACE and returns it. Only for private working copies;
 * everything public goes through `evolve`.
 */
export function apply(s: StageState, event: CkptEvent, revision: number): StageState {
  checkTransition(s, event);
  s.revision = revision;
  s.updatedAt = event.at;
  s.createdAt ??= event.at;
  switch (event.type) {
    case "run.started":
      s.runs++;
      s.startedAt = event.at;
      s.finishedAt = null;
      if (event.total !== undefined) s.total = event.total;
      if (event.input !== undefined) s.input = event.input;
      if (event.config !== undefined) s.config = event.config;
      s.run = {
        id: event.runId,
        owner: event.owner ?? null,
        startedAt: event.at,
        processedAtStart: s.counters.processed,
        leaseMs: event.leaseMs ?? null,
      };
      break;
    case "item":
      applyItem(s, event);
      break;
    case "item.reopened":
      // Only successful items have outputs to check, so a reopened item was counted as successful.
      if (remove(s.resume, event.index)) {
        s.counters.processed--;
        s.counters.successful = Math.max(0, s.counters.successful - 1);
        s.counters.reopened++;
      }
      break;
    case "progress":
      if (event.total !== undefined) s.total = event.total;
      if (event.cost !== undefined) s.cost += event.cost;
      if (event.ok) (s.counters.successful += event.ok), (s.counters.processed += event.ok);
      if (event.failed) (s.counters.failed += event.failed), (s.counters.processed += event.failed);
      if (event.skipped) {
        (s.counters.skipped += event.skipped), (s.counters.processed += event.skipped);
      }
      break;
    case "unit": {
      const prev = s.units[event.key];
      s.units[event.key] = {
        status: event.status,
        page: event.page ?? prev?.page ?? null,
        records: (prev?.records ?? 0) + (event.records ?? 0),
        retryable: event.retryable ?? (event.status === "failed" ? prev?.retryable ?? null : null),
        error: event.status === "failed" ? event.error ?? null : null,
        updatedAt: event.at,
      };
      if (event.status === "failed" && event.error !== undefined) {
        recordError(s, event.error, event.retryable ?? false, event.at);
      }
      break;
    }
    case "error":
      recordError(s, event.message, event.retryable, event.at);
      break;
    case "paused":
    case "resumed":
    case "heartbeat":
    case "checkpoint": // the state lives in the event; stage.latest() reads it back (core/checkpoints.ts)
      break;
    case "crash.detected":
      break;
    case "completed":
      s.finishedAt = event.at;
      if (event.metadata) Object.assign(s.metadata, event.metadata);
      break;
    case "failed":
      s.finishedAt = event.at;
      recordError(s, event.message, event.retryable ?? false, event.at);
      break;
    case "reset": {
      const fresh = initialState(s.stage);
      Object.assign(s, fresh, { revision, createdAt: s.createdAt, updatedAt: event.at });
      return s;
    }
    case "metadata":
      Object.assign(s.metadata, event.metadata);
      break;
  }
  s.status = nextStatus(s.status, event);
  return s;
}

/**
 * An item event's own change to `s` (what `apply` does besides the transition check, revision and
 * times): also the body of the writer's batch fold (core/projection.ts `applyAllToProjection`), so
 * the two cannot disagree.
 */
export function applyItem(s: StageState, event: ItemEvent): void {
  const r = s.resume;
  r.lastIndex = event.index;
  if (event.item !== undefined) r.lastItem = event.item;
  if (event.batch !== undefined) r.batch = event.batch;
  if (event.cost !== undefined) s.cost += event.cost;
  if (!add(r, event.index)) {
    s.counters.duplicates++;
    return;
  }
  s.counters.processed++;
  if (event.outcome === "ok") s.counters.successful++;
  else if (event.outcome === "failed") s.counters.failed++;
  else s.counters.skipped++;
  if (event.error !== undefined) recordError(s, event.error, false, event.at);
}

function recordError(s: StageState, message: string, retryable: boolean, at: number): void {
  s.errors.count++;
  s.errors.lastMessage = message;
  s.errors.lastAt = at;
  s.errors.retryable = retryable;
}

/**
 * The pure reducer: the state after `event` (at `revision`), leaving `state` untouched.
 * @example const s1 = evolve(initialState("crawl"), { type: "run.started", v: 1, at: 1, runId: "r1" }, 0)
 */
export function evolve(
  state: StageState,
  event: CkptEvent,
  revision: number = state.revision + 1,
): StageState {
  return apply(cloneState(state), event, revision);
}

/** Is `index` recorded as done (successful, failed or skipped) in `state`? */
export function isDone(state: StageState, index: number): boolean {
  return has(state.resume, index);
}
