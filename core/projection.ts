/**
 * Both projections folded together (state + history), plus the snapshot format that carries
 * them. A snapshot is only trusted when its reducer version matches this code's.
 */
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

/** The projection a snapshot holds, or undefined when it was written by another reducer version. */
export function fromSnapshot(stage: string, snap: Snapshot | undefined): Projection | undefined {
  if (!snap || snap.version !== REDUCER_VERSION) return undefined;
  const p = snap.state as Projection;
  if (!p || typeof p !== "object" || !p.state || !p.history || p.state.stage !== stage) return undefined;
  return p;
}
