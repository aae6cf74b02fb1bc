/**
 * TTL compaction: one policy object for the library, `ckpt compact` and the sidecar. Old events
 * are folded into a base snapshot and then removed (never the other way round), so the current
 * state and the run summaries are identical before and after; running stages are never touched.
 */
import { type CheckpointRetention, checkCheckpointRetention, cutForCheckpoints } from "./checkpoints.ts";
import { CkptError, ErrorCode } from "./errors.ts";
import { type EventLog, readForward, type StreamInfo } from "./log.ts";
import { applyToProjection, fromSnapshot, initialProjection, type Projection, toSnapshot } from "./projection.ts";

export interface RetentionPolicy extends CheckpointRetention {
  /** Events older than this (ms) are folded into the base snapshot and removed. */
  maxAgeMs?: number;
  /** Keep at most this many events per stage. */
  maxEvents?: number;
  /** Always keep at least this many recent events per stage (default 100). */
  minEvents?: number;
  /** Stages completed, failed or idle (not running) for longer than this (ms) are removed whole. */
  stageTtlMs?: number;
  /** Only stages whose names start with this. */
  prefix?: string;
  /** Report what would go; change nothing. */
  dryRun?: boolean;
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
      throw new CkptError(ErrorCode.INVALID, `Retention policy: ${k} must be a non-negative integer, got ${String(v)}.`, { issues: [{ path: [k], message: "expected a non-negative integer" }] });
    }
  }
  checkCheckpointRetention(p);
  if (p.maxAgeMs === undefined && p.maxEvents === undefined && p.stageTtlMs === undefined && p.keepCheckpoints === undefined && p.checkpointTtlMs === undefined) {
    throw new CkptError(ErrorCode.INVALID, "Retention policy: give at least one of maxAgeMs, maxEvents, stageTtlMs, keepCheckpoints or checkpointTtlMs (e.g. --max-age 7d, --keep 10000, --days 30).");
  }
}

/**
 * Parses "90s", "15m", "12h", "7d", "2w" (or plain milliseconds) into milliseconds.
 * @example parseDuration("7d") // 604800000
 */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$/.exec(text);
  if (!m) throw new CkptError(ErrorCode.INVALID, `Cannot read duration "${text}"; use a number with ms, s, m, h, d or w (e.g. 7d).`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[(m[2] ?? "ms") as "ms"];
  return Math.round(Number(m[1]) * unit);
}

/** Where to cut a stage's log: events with revision < cut go. Returns `first` when nothing should. */
export async function cutRevision(log: EventLog, info: StreamInfo, p: RetentionPolicy, now: number): Promise<number> {
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
  return cutForCheckpoints(log, info, p, now, Math.max(info.first, Math.min(cut, keepFrom)), keepFrom);
}

/** State and history as of `cut - 1`: the base snapshot that replaces the removed events. */
export async function baseAt(log: EventLog, info: StreamInfo, cut: number): Promise<Projection> {
  let p: Projection | undefined = info.first > 0 ? fromSnapshot(info.stream, await log.loadSnapshot(info.stream, "base")) : initialProjection(info.stream);
  if (!p) throw new CkptError(ErrorCode.CORRUPT, `Stage "${info.stream}" was compacted before but its base snapshot is missing; run \`ckpt verify ${info.stream}\`.`);
  p = structuredClone(p);
  for await (const batch of readForward(log, info.stream, p.state.revision + 1)) {
    for (const { revision, event } of batch) {
      if (revision >= cut) return p;
      applyToProjection(p, event, revision);
    }
  }
  return p;
}

/**
 * Applies `policy` to every stage of `log`. `isActive` says whether this process has a live run
 * on a stage (those, and every stage whose status is running or recovering, are skipped).
 */
export async function compactLog(
  log: EventLog,
  policy: RetentionPolicy,
  options: {
    statusOf: (stage: string) => Promise<{ status: string; updatedAt: number | null }>;
    isActive: (stage: string) => boolean;
    beforeChange?: (stage: string) => Promise<void>;
    afterChange?: (stage: string) => Promise<void>;
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
  for (const [index, info] of infos.entries()) {
    options.onProgress?.({ stage: info.stream, index, of: infos.length });
    const base = { stage: info.stream, firstBefore: info.first, firstAfter: info.first, head: info.head, eventsRemoved: 0 };
    const { status, updatedAt } = await options.statusOf(info.stream);
    if (status === "running" || status === "recovering" || options.isActive(info.stream)) {
      reports.push({ ...base, action: "skipped", reason: `${status}: a live stage is never compacted` });
      continue;
    }
    const idleFor = now - (updatedAt ?? info.updatedAt);
    if (policy.stageTtlMs !== undefined && idleFor > policy.stageTtlMs) {
      if (!dryRun) {
        await options.beforeChange?.(info.stream);
        await log.delete(info.stream);
        await options.afterChange?.(info.stream);
      }
      reports.push({ ...base, action: "deleted", reason: `${status}, idle ${Math.round(idleFor / 86_400_000)} d past the stage TTL`, eventsRemoved: info.head + 1 - info.first, firstAfter: info.head + 1 });
      continue;
    }
    const cut = await cutRevision(log, info, policy, now);
    if (cut <= info.first) {
      reports.push({ ...base, action: "kept", reason: "nothing past the policy" });
      continue;
    }
    if (!dryRun) {
      await options.beforeChange?.(info.stream);
      const projection = await baseAt(log, info, cut);
      await log.truncateBefore(info.stream, cut, toSnapshot(projection));
      await options.afterChange?.(info.stream);
    }
    reports.push({ ...base, action: "compacted", reason: `events before revision ${cut} folded into the base snapshot`, eventsRemoved: cut - info.first, firstAfter: cut });
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
