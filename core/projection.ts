/**
 * Both projections folded together (state + history), plus the snapshot format that carries
 * them. A snapshot is only trusted when its reducer version matches this code's.
 */
import { z } from "zod";
import type { CkptEvent } from "./events.ts";
import { applyHistory, cloneHistory, type History, initialHistory } from "./history.ts";
import type { Snapshot } from "./log.ts";
import { apply, cloneState, initialState, REDUCER_VERSION, type StageState } from "./state.ts";

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

export function toSnapshot(p: Projection): Snapshot {
  return { revision: p.state.revision, version: REDUCER_VERSION, state: cloneProjection(p) };
}

const num = z.number();
const numOrNull = z.number().nullable();
const strOrNull = z.string().nullable();
const record = z.record(z.string(), z.unknown());
// The resume ranges can hold 100k numbers: a plain loop, not a schema per element.
const numbers = z.custom<number[]>((v) =>
  Array.isArray(v) && v.every((x) => typeof x === "number")
);
/**
 * The shape every reader of a projection relies on. A snapshot is a cache written by us, but
 * LevelDB reads its tables without verifying checksums, so a damaged one can decode; checked here
 * once per load, it is ignored (rebuilt from the events) instead of failing later with a TypeError.
 */
const ProjectionShape = z.object({
  state: z.object({
    stage: z.string(),
    revision: z.number().int().min(-1),
    status: z.string(),
    total: numOrNull,
    counters: z.object({
      processed: num,
      successful: num,
      failed: num,
      skipped: num,
      duplicates: num,
      reopened: num,
    }),
    resume: z.object({
      watermark: num,
      ranges: numbers,
      lastIndex: numOrNull,
      lastItem: strOrNull,
      batch: strOrNull,
    }),
    units: z.record(
      z.string(),
      z.object({ status: z.string(), page: numOrNull, records: num, updatedAt: num }),
    ),
    errors: z.object({
      count: num,
      lastMessage: strOrNull,
      lastAt: numOrNull,
      retryable: z.boolean().nullable(),
    }),
    cost: num,
    metadata: record,
    input: strOrNull,
    config: strOrNull,
    run: z.object({ id: z.string(), startedAt: num, processedAtStart: num, leaseMs: numOrNull })
      .nullable(),
    runs: num,
    createdAt: numOrNull,
    startedAt: numOrNull,
    updatedAt: numOrNull,
    finishedAt: numOrNull,
  }),
  history: z.object({
    stage: z.string(),
    runs: z.array(z.object({ runId: z.string(), startedAt: num, processed: num })),
    statusChanges: z.array(z.object({ revision: num, at: num, from: z.string(), to: z.string() })),
    compactedEvents: num,
  }),
});

/**
 * The projection a snapshot holds, or undefined when there is none to trust: written by another
 * reducer version, for another stage, or damaged (see ProjectionShape). Callers rebuild from the
 * events instead, or refuse with CKPT_CORRUPT when compaction removed them.
 */
export function fromSnapshot(stage: string, snap: Snapshot | undefined): Projection | undefined {
  if (!snap || snap.version !== REDUCER_VERSION) return undefined;
  const p = snap.state as Projection;
  if (
    !p || typeof p !== "object" || !p.state || p.state.stage !== stage ||
    p.state.revision !== snap.revision
  ) return undefined;
  if (!ProjectionShape.safeParse(p).success) return undefined;
  return p;
}
