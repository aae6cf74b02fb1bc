/**
 * Both projections folded together (state + history), plus the snapshot format that carries
 * them. A snapshot is only trusted when its reducer version matches this code's.
 */
import type { CkptEvent } from "./events.ts";
import { applyHistory, cloneHistory, type History, initialHistory } from "./history.ts";
import type { Snapshot } from "./log.ts";
import {
  apply,
  applyItem,
  cloneState,
  initialState,
  REDUCER_VERSION,
  type StageState,
} from "./state.ts";

export interface Projection {
  state: StageState;
  history: History;
}

export function initialProjection(stage: string): Projection {
  return { state: initialState(stage), history: initialHistory(stage) };
}

export function cloneProjection(p: Projection): Projection {
  return { state: cloneState(p.state), history: cloneHistory(p.history) };
}

/** What the history projection reads of the state before an event; one scratch copy, reused. */
const before = {
  status: "initialized" as StageState["status"],
  counters: { processed: 0, successful: 0, failed: 0, skipped: 0, duplicates: 0, reopened: 0 },
  cost: 0,
};

/** Folds one event into `p` IN PLACE (a private working copy). */
export function applyToProjection(p: Projection, event: CkptEvent, revision: number): void {
  const s = p.state;
  // Copied field by field: replays fold millions of events and must not allocate per event.
  before.status = s.status;
  const c = s.counters;
  const b = before.counters;
  b.processed = c.processed;
  b.successful = c.successful;
  b.failed = c.failed;
  b.skipped = c.skipped;
  before.cost = s.cost;
  apply(s, event, revision);
  applyHistory(p.history, event, revision, before, s);
}

/**
 * Folds `events` (at revisions `from + 1`, `from + 2`, …) into `p` IN PLACE: the same result as
 * `applyToProjection` for each, but a stretch of item events in a running stage (the writer's
 * group commit) is folded as one. Items leave the status alone and the history only sums the
 * counters' deltas into the open run, so those sums are taken once per stretch.
 */
export function applyAllToProjection(
  p: Projection,
  events: readonly CkptEvent[],
  from: number,
): void {
  const s = p.state;
  let rev = from;
  let k = 0;
  while (k < events.length) {
    const first = events[k]!;
    // Anything else, and items the status refuses (apply throws the refusal), take the general path.
    if (first.type !== "item" || s.status !== "running") {
      applyToProjection(p, first, ++rev);
      k++;
      continue;
    }
    const h = p.history;
    const current = h.runs[h.runs.length - 1];
    const open = current !== undefined && current.endedAt === null ? current : undefined;
    const c = s.counters;
    const processed = c.processed;
    const successful = c.successful;
    const failed = c.failed;
    const skipped = c.skipped;
    s.createdAt ??= first.at;
    for (let e: CkptEvent; k < events.length && (e = events[k]!).type === "item"; k++) {
      if (e.cost === undefined) applyItem(s, e);
      else {
        // Costs are added event by event, as applyHistory does: floating-point sums in another
        // order could differ in the last bit from a replay's.
        const cost = s.cost;
        applyItem(s, e);
        if (open) open.cost += s.cost - cost;
      }
    }
    rev = from + k;
    s.revision = rev;
    s.updatedAt = events[k - 1]!.at;
    if (open) {
      open.processed += c.processed - processed;
      open.successful += c.successful - successful;
      open.failed += c.failed - failed;
      open.skipped += c.skipped - skipped;
      open.toRevision = rev;
    }
  }
}

export function toSnapshot(p: Projection): Snapshot {
  return { revision: p.state.revision, version: REDUCER_VERSION, state: cloneProjection(p) };
}

// The shape every reader of a projection relies on. A snapshot is a cache written by us, but LevelDB
// reads its tables without verifying checksums, so a damaged one can decode; checked here once per
// load, it is ignored (rebuilt from the events) instead of failing later with a TypeError. Written by
// hand, not as a zod schema: this runs on every resume, and a schema cost about 1 ms of a 4–5 ms resume.
const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === "number";
const numOrNull = (v: unknown) => v === null || typeof v === "number";
const strOrNull = (v: unknown) => v === null || typeof v === "string";
const allNum = (o: Record<string, unknown>, keys: readonly string[]) =>
  keys.every((k) => isNum(o[k]));
const allObj = (a: unknown) => Array.isArray(a) && a.every(isObj);
const COUNTERS = [
  "processed",
  "successful",
  "failed",
  "skipped",
  "duplicates",
  "reopened",
] as const;
const TIMES = ["createdAt", "startedAt", "updatedAt", "finishedAt"] as const;

function isStateShape(s: Record<string, unknown>): boolean {
  const { counters, resume, units, errors, run } = s;
  return typeof s.stage === "string" && Number.isInteger(s.revision) &&
    (s.revision as number) >= -1 &&
    typeof s.status === "string" && numOrNull(s.total) && isNum(s.cost) && isNum(s.runs) &&
    isObj(s.metadata) && strOrNull(s.input) && strOrNull(s.config) &&
    TIMES.every((k) => numOrNull(s[k])) &&
    isObj(counters) && allNum(counters, COUNTERS) &&
    isObj(resume) && isNum(resume.watermark) && Array.isArray(resume.ranges) &&
    resume.ranges.every(isNum) && numOrNull(resume.lastIndex) && strOrNull(resume.lastItem) &&
    strOrNull(resume.batch) &&
    isObj(units) && Object.values(units).every((u) =>
      isObj(u) && typeof u.status === "string" &&
      numOrNull(u.page) && isNum(u.records) && isNum(u.updatedAt)
    ) &&
    isObj(errors) && isNum(errors.count) && strOrNull(errors.lastMessage) &&
    numOrNull(errors.lastAt) &&
    (errors.retryable === null || typeof errors.retryable === "boolean") &&
    (run === null || (isObj(run) && typeof run.id === "string" && isNum(run.startedAt) &&
      isNum(run.processedAtStart) && numOrNull(run.leaseMs)));
}

function isProjectionShape(p: unknown): boolean {
  if (!isObj(p) || !isObj(p.state) || !isObj(p.history)) return false;
  const h = p.history;
  return isStateShape(p.state) && typeof h.stage === "string" && isNum(h.compactedEvents) &&
    allObj(h.runs) && allObj(h.statusChanges);
}

/**
 * The projection a snapshot holds, or undefined when there is none to trust: written by another
 * reducer version, for another stage, or damaged (see isProjectionShape). Callers rebuild from the
 * events instead, or refuse with CKPT_CORRUPT when compaction removed them.
 */
export function fromSnapshot(stage: string, snap: Snapshot | undefined): Projection | undefined {
  if (!snap || snap.version !== REDUCER_VERSION) return undefined;
  const p = snap.state as Projection;
  if (
    !p || typeof p !== "object" || !p.state || p.state.stage !== stage ||
    p.state.revision !== snap.revision
  ) return undefined;
  if (!isProjectionShape(p)) return undefined;
  return p;
}
