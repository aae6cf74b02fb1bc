/**
 * TTL compaction: one policy object for the library, `ckpt compact` and the sidecar. Old events
 * are folded into a base snapshot and then removed (never the other way round), so the current
 * state and the run summaries are identical before and after; running stages are never touched.
 */
import {
  checkCheckpointRetention,
  type CheckpointRetention,
  cutForCheckpoints,
} from "./checkpoints.ts";
import { CkptError, ErrorCode, isCkptError } from "./errors.ts";
import { baseProjection, foldLog } from "./fold.ts";
import type { EventLog, StreamInfo } from "./log.ts";
import { type Projection, toSnapshot } from "./projection.ts";

export interface RetentionPolicy extends CheckpointRetention {
  /** Events older than this (ms) are folded into the base snapshot and removed. */
  maxAgeMs?: number | undefined;
  /** Keep at most this many events per stage. */
  maxEvents?: number | undefined;
  /** Always keep at least this many recent events per stage (default 100). */
  minEvents?: number | undefined;
  /** Stages completed, failed or idle (not running) for longer than this (ms) are removed whole. */
  stageTtlMs?: number | undefined;
  /** Only stages whose names start with this. */
  prefix?: string | undefined;
  /** Report what would go; change nothing. */
  dryRun?: boolean | undefined;
}

export type StageAction = "compacted" | "deleted" | "skipped" | "kept";

export interface StageReport {
  stage: string;
  action: StageAction;
  reason: string;
  eventsRemoved: number;
  /** First stored revision before and after. */
  firstBefore: number;
  firstAfter: number;
  head: number;
}

export interface CompactionReport {
  dryRun: boolean;
  stages: StageReport[];
  stagesTouched: number;
  stagesDeleted: number;
  eventsRemoved: number;
  /** Bytes on disk before and after (adapters that can tell; null otherwise). */
  bytesBefore: number | null;
  bytesAfter: number | null;
  bytesReclaimed: number | null;
  durationMs: number;
}

export interface CompactionProgress {
  stage: string;
  index: number;
  of: number;
}

export const DEFAULT_MIN_EVENTS = 100;

/** Throws CKPT_INVALID for a policy a user could get wrong. */
export function checkPolicy(p: RetentionPolicy): void {
  for (const k of ["maxAgeMs", "maxEvents", "minEvents", "stageTtlMs"] as const) {
    const v = p[k];
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) {
      throw new CkptError(
        ErrorCode.INVALID,
        `Retention policy: ${k} must be a non-negative integer, got ${String(v)}.`,
        { issues: [{ path: [k], message: "expected a non-negative integer" }] },
      );
    }
  }
  checkCheckpointRetention(p);
  if (
    p.maxAgeMs === undefined && p.maxEvents === undefined && p.stageTtlMs === undefined &&
    p.keepCheckpoints === undefined && p.checkpointTtlMs === undefined
  ) {
    throw new CkptError(
      ErrorCode.INVALID,
      "Retention policy: give at least one of maxAgeMs, maxEvents, stageTtlMs, keepCheckpoints or checkpointTtlMs (e.g. --max-age 7d, --keep 10000, --days 30).",
    );
  }
}

/** The duration grammar lives in core/duration.ts; re-exported here, where it always was. */
export { parseDuration } from "./duration.ts";

/**
 * Where to cut a stage's log: events with revision < cut go. Returns `first` when nothing should.
 */
export async function cutRevision(
  log: EventLog,
  info: StreamInfo,
  p: RetentionPolicy,
  now: number,
): Promise<number> {
  const keepFrom = info.head + 1 - (p.minEvents ?? DEFAULT_MIN_EVENTS);
  let cut = info.first;
  if (p.maxEvents !== undefined) cut = Math.max(cut, info.head + 1 - p.maxEvents);
  if (p.maxAgeMs !== undefined) {
    const horizon = now - p.maxAgeMs;
    let firstYoung = info.head + 1;
    for await (const { revision, event } of log.read(info.stream, { from: info.first })) {
      if (event.at >= horizon) {
        firstYoung = revision;
        break;
      }
    }
    cut = Math.max(cut, firstYoung);
  }
  return cutForCheckpoints(
    log,
    info,
    p,
    now,
    Math.max(info.first, Math.min(cut, keepFrom)),
    keepFrom,
  );
}

/** State and history as of `cut - 1`: the base snapshot that replaces the removed events. */
export async function baseAt(log: EventLog, info: StreamInfo, cut: number): Promise<Projection> {
  const p = await baseProjection(log, info);
  await foldLog(log, info.stream, p, { until: cut });
  return p;
}

/** A stage as the compacting process sees it at the moment it decides. */
export interface SeenStage {
  status: string;
  updatedAt: number | null;
  /**
   * Revision of the last event that state includes (-1: no stream): the delete or truncate expects
   * exactly this head.
   */
  revision: number;
  /** A run of this process is live on it, or updates are queued for it. */
  active: boolean;
}

/**
 * Runs `act` on one stage, serialised with the caller's own writes to it, passing the stage as seen
 * right then. `act` reports whether it deleted the stream (so the caller can reset its writer).
 */
export type StageGate = (
  stage: string,
  act: (seen: SeenStage) => Promise<{ report: StageReport; deleted: boolean }>,
) => Promise<StageReport>;

/**
 * Applies `policy` to every stage of `log`. Each stage is decided and acted on inside `withStage`
 * (serialised with this process's writer), and the delete or truncate carries the revision the
 * decision was made on: a stage another writer touched meanwhile is CKPT_CONFLICT in the log and is
 * reported `skipped`, so compaction never acts on a stale read. Running stages are never touched.
 */
export async function compactLog(
  log: EventLog,
  policy: RetentionPolicy,
  options: {
    withStage: StageGate;
    onProgress?: (p: CompactionProgress) => void;
    sizeBytes?: () => Promise<number>;
    now?: number;
  },
): Promise<CompactionReport> {
  checkPolicy(policy);
  const started = Date.now();
  const now = options.now ?? started;
  const dryRun = policy.dryRun ?? false;
  const bytesBefore = options.sizeBytes ? await options.sizeBytes() : null;
  const infos = await log.streams(policy.prefix === undefined ? {} : { prefix: policy.prefix });
  const reports: StageReport[] = [];
  for (const [index, listed] of infos.entries()) {
    options.onProgress?.({ stage: listed.stream, index, of: infos.length });
    reports.push(
      await options.withStage(
        listed.stream,
        (seen) => compactStage(log, policy, listed, seen, now, dryRun),
      ),
    );
  }
  const bytesAfter = options.sizeBytes && !dryRun ? await options.sizeBytes() : bytesBefore;
  const changed = reports.filter((r) => r.action === "compacted" || r.action === "deleted");
  return {
    dryRun,
    stages: reports,
    stagesTouched: changed.length,
    stagesDeleted: reports.filter((r) => r.action === "deleted").length,
    eventsRemoved: changed.reduce((a, r) => a + r.eventsRemoved, 0),
    bytesBefore,
    bytesAfter,
    bytesReclaimed: bytesBefore === null || bytesAfter === null ? null : bytesBefore - bytesAfter,
    durationMs: Date.now() - started,
  };
}

/** One stage: decide on what `seen` says, then act expecting exactly that head. */
async function compactStage(
  log: EventLog,
  policy: RetentionPolicy,
  listed: StreamInfo,
  seen: SeenStage,
  now: number,
  dryRun: boolean,
): Promise<{ report: StageReport; deleted: boolean }> {
  const { status, updatedAt } = seen;
  const info = (await log.info(listed.stream)) ?? listed;
  const base = {
    stage: info.stream,
    firstBefore: info.first,
    firstAfter: info.first,
    head: info.head,
    eventsRemoved: 0,
  };
  const skip = (reason: string) => ({
    report: { ...base, action: "skipped" as const, reason },
    deleted: false,
  });
  if (status === "running" || status === "recovering" || seen.active) {
    return skip(`${status}: a live stage is never compacted`);
  }
  if (seen.revision !== info.head) {
    return skip(`changed while compacting (now at revision ${info.head}); left for the next run`);
  }
  const expectedRevision = seen.revision < 0 ? ("no_stream" as const) : seen.revision;
  const idleFor = now - (updatedAt ?? info.updatedAt);
  try {
    if (policy.stageTtlMs !== undefined && idleFor > policy.stageTtlMs) {
      if (!dryRun) await log.delete(info.stream, { expectedRevision });
      const reason = `${status}, idle ${Math.round(idleFor / 86_400_000)} d past the stage TTL`;
      return {
        report: {
          ...base,
          action: "deleted",
          reason,
          eventsRemoved: info.head + 1 - info.first,
          firstAfter: info.head + 1,
        },
        deleted: !dryRun,
      };
    }
    const cut = await cutRevision(log, info, policy, now);
    if (cut <= info.first) {
      return {
        report: { ...base, action: "kept", reason: "nothing past the policy" },
        deleted: false,
      };
    }
    if (!dryRun) {
      const projection = await baseAt(log, info, cut);
      await log.truncateBefore(info.stream, cut, toSnapshot(projection), { expectedRevision });
    }
    const reason = `events before revision ${cut} folded into the base snapshot`;
    return {
      report: {
        ...base,
        action: "compacted",
        reason,
        eventsRemoved: cut - info.first,
        firstAfter: cut,
      },
      deleted: false,
    };
  } catch (err) {
    // Another writer (another process on a shared log) got there between our read and the change:
    // nothing changed.
    if (isCkptError(err, ErrorCode.CONFLICT)) {
      return skip("changed while compacting (another writer appended); left for the next run");
    }
    throw err;
  }
}
