/**
 * The history projection: every run (start, end, outcome, counts within that run) and every
 * status change. It reads the current-state projection before and after each event, so the two
 * can never disagree about what an event meant.
 */
import type { CkptEvent } from "./events.ts";
import type { StageState, Status } from "./state.ts";

export type RunOutcome = "running" | "paused" | "completed" | "failed" | "crashed" | "reset";

export interface RunSummary {
  runId: string;
  startedAt: number;
  endedAt: number | null;
  outcome: RunOutcome;
  /** The run picked up after a crash of the previous one. */
  recovered: boolean;
  processed: number;
  successful: number;
  failed: number;
  skipped: number;
  cost: number;
  /** First and last revision of the run's events. */
  fromRevision: number;
  toRevision: number;
}

export interface StatusChange {
  revision: number;
  at: number;
  from: Status;
  to: Status;
  event: CkptEvent["type"];
  reason: string | null;
}

export interface History {
  stage: string;
  runs: RunSummary[];
  statusChanges: StatusChange[];
  /** Events removed by compaction; their runs and status changes are still summarised above. */
  compactedEvents: number;
}

export function initialHistory(stage: string): History {
  return { stage, runs: [], statusChanges: [], compactedEvents: 0 };
}

export function cloneHistory(h: History): History {
  return {
    ...h,
    runs: h.runs.map((r) => ({ ...r })),
    statusChanges: h.statusChanges.map((c) => ({ ...c })),
  };
}

function reasonOf(e: CkptEvent): string | null {
  switch (e.type) {
    case "paused":
    case "reset":
    case "crash.detected":
      return e.reason ?? null;
    case "failed":
      return e.message;
    default:
      return null;
  }
}

/** Applies one event IN PLACE, given the state just before and just after it. */
export function applyHistory(
  h: History,
  e: CkptEvent,
  revision: number,
  before: Readonly<Pick<StageState, "status" | "counters" | "cost">>,
  after: Readonly<StageState>,
): History {
  const current = h.runs[h.runs.length - 1];
  const open = current !== undefined && current.endedAt === null ? current : undefined;
  if (open) {
    // Counts within the run are deltas of the stage's counters, so duplicates are never counted
    // twice.
    open.processed += after.counters.processed - before.counters.processed;
    open.successful += after.counters.successful - before.counters.successful;
    open.failed += after.counters.failed - before.counters.failed;
    open.skipped += after.counters.skipped - before.counters.skipped;
    open.cost += after.cost - before.cost;
    open.toRevision = revision;
  }
  if (before.status !== after.status || e.type === "run.started") {
    h.statusChanges.push({
      revision,
      at: e.at,
      from: before.status,
      to: after.status,
      event: e.type,
      reason: reasonOf(e),
    });
  }
  switch (e.type) {
    case "run.started":
      if (open) (open.endedAt = e.at), (open.outcome = "crashed");
      h.runs.push({
        runId: e.runId,
        startedAt: e.at,
        endedAt: null,
        outcome: "running",
        recovered: before.status === "recovering",
        processed: 0,
        successful: 0,
        failed: 0,
        skipped: 0,
        cost: 0,
        fromRevision: revision,
        toRevision: revision,
      });
      break;
    case "paused":
      if (open) (open.outcome = "paused"), (open.endedAt = e.at);
      break;
    case "resumed": {
      const last = h.runs[h.runs.length - 1];
      if (last && last.outcome === "paused") {
        (last.outcome = "running"), (last.endedAt = null), (last.toRevision = revision);
      }
      break;
    }
    case "crash.detected":
      if (open) (open.outcome = "crashed"), (open.endedAt = e.at);
      break;
    case "completed":
      if (open) (open.outcome = "completed"), (open.endedAt = e.at);
      break;
    case "failed":
      if (open) (open.outcome = "failed"), (open.endedAt = e.at);
      break;
    case "reset":
      if (open) (open.outcome = "reset"), (open.endedAt = e.at);
      break;
    default:
      break;
  }
  return h;
}
