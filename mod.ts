/**
 * ckpt's entry point: `open()` picks the log (LevelDB folder by default, memory, or one you
 * pass; the one rule for choosing is adapters/target.ts) and wires in the runtime. Everything else
 * is re-exported from core.
 */
import { type Durability, levelLog } from "./adapters/level.ts";
import { memoryLog } from "./adapters/memory.ts";
import { openLog } from "./adapters/open-log.ts";
import { segmentLog as openSegmentLog, type SegmentLogOptions } from "./adapters/segments.ts";
import { resolveTarget } from "./adapters/target.ts";
import type { EventLog } from "./core/log.ts";
import { Store, type StoreOptions } from "./core/store.ts";
import { runtimePlatform } from "./runtime/platform.ts";
import { OpenOptionsSchema } from "./core/options.ts";
import { parseArg } from "./core/validate.ts";

export interface OpenOptions extends StoreOptions {
  /**
   * LevelDB folder, or `segments:<dir>` for a segment log (see segmentLog); a folder that already
   * holds a segment log opens as one. Default: `$CKPT_STORE`, else `./.ckpt`.
   */
  path?: string;
  /**
   * "sync" (default): fsync per group commit. "os": survives a process crash, not a power cut
   * (LevelDB only: a segment log is always synchronous, and "os" with it is CKPT_INVALID).
   */
  durability?: Durability;
  /** Keep everything in memory (tests, throwaway runs), or `$CKPT_MEMORY=1`. */
  memory?: boolean;
  /** Any EventLog (EventStoreDB, HTTP, your own). */
  log?: EventLog;
  /**
   * An EventStoreDB / KurrentDB connection string (`esdb://host:2113?tls=false`), or
   * `$CKPT_EVENTSTORE`: stages shared across machines.
   */
  eventstore?: string;
  /** Stream name prefix on EventStoreDB (default "ckpt-"). */
  eventstorePrefix?: string;
  /**
   * A ckpt-server URL (or `$CKPT_URL`): worker processes share one store through the sidecar. A
   * `postgres://user:pass@host/db?schema=ckpt` URL (here or in `$CKPT_STORE`) opens PostgreSQL
   * instead; a bare `postgres://` takes the connection from `$DATABASE_URL` or the PG* variables.
   */
  url?: string;
  /** Bearer token for the sidecar (or `$CKPT_TOKEN`); CKPT_INVALID with any other target. */
  token?: string;
}

/**
 * Opens a store.
 * @example
 * const store = await open({ path: "./.ckpt" })
 * const run = await store.stage("fetch").begin({ total: urls.length })
 * for (let i = 0; i < urls.length; i++) if (!run.isDone(i)) { await fetchAndSave(urls[i]); await run.done(i) }
 * await run.complete(); await store.close()
 */
export async function open(options: OpenOptions = {}): Promise<Store> {
  parseArg(OpenOptionsSchema, options, "open()"); // wrong types, or two targets (path and url, …): CKPT_INVALID
  return new Store(await chooseLog(options), { platform: runtimePlatform, ...options });
}

/**
 * A log passed in as is; otherwise the one rule of adapters/target.ts, which env names the
 * platform's.
 */
async function chooseLog(o: OpenOptions): Promise<EventLog> {
  if (o.log) return o.log;
  const target = resolveTarget(o, (o.platform ?? runtimePlatform).env);
  return openLog(target, { durability: o.durability, eventstorePrefix: o.eventstorePrefix });
}

/**
 * A segment log: ckpt's own durable log in a folder of preallocated segment files, written in place
 * with O_DSYNC, one positional write per group commit. Choose it over levelLog (the default) for
 * faster durable writes (see Benchmarks in the README); `open({ path: "segments:./data" })` opens
 * the same. One process at a time holds it (a second writer gets CKPT_LOCKED; `readOnly: true`
 * reads beside the writer). `blocking: true` writes on the main thread, as better-sqlite3 does:
 * more throughput, for an event-loop stall of ~0.1–0.2 ms per commit.
 * @example const store = await open({ log: await segmentLog("./data") }) // or open({ path: "segments:./data" })
 */
export function segmentLog(path: string, options?: SegmentLogOptions): Promise<EventLog> {
  return openSegmentLog(path, options);
}

// The public surface, chosen: what a pipeline, an adapter author or a dashboard needs. Internals
// (the zod schemas, hashing helpers, the reducer's version) stay out so they can change;
// test/api/ckpt.api.d.ts records every change to this list and to the types behind it. Other entry
// points: ckpt/http, ckpt/eventstoredb, ckpt/server, ckpt/testing.
export { levelLog, memoryLog };
export type { LevelLogOptions } from "./adapters/level.ts";
export type { SegmentLogOptions };
export type { Durability, EventLog, StoreOptions };
export type { Store } from "./core/store.ts";
export { CkptError, ErrorCode, isCkptError } from "./core/errors.ts";
export type { Issue } from "./core/errors.ts";
export type { CkptEvent, EventType, NewEvent } from "./core/events.ts";
export type {
  AppendOptions,
  ExpectedRevision,
  ReadOptions,
  RecordedEvent,
  Revision,
  Snapshot,
  StreamInfo,
  Supports,
} from "./core/log.ts";
export { evolve, initialState, isDone, Status } from "./core/state.ts";
export type { StageState, UnitState } from "./core/state.ts";
export type { History, RunSummary, StatusChange } from "./core/history.ts";
export { progressOf } from "./core/progress.ts";
export type { ProgressFigures } from "./core/progress.ts";
export type {
  ErrorOptions,
  FailOptions,
  ItemOptions,
  ProgressOptions,
  ResumeInfo,
  Run,
  Unit,
} from "./core/run.ts";
export type { BeginOptions, InputSource, ReplayEntry, ReplayOptions, Stage } from "./core/stage.ts";
export { shutdown } from "./core/store.ts";
export type { StageSummary } from "./core/store.ts";
export { parseDuration } from "./core/retention.ts";
export type {
  CompactionProgress,
  CompactionReport,
  RetentionPolicy,
  StageReport,
} from "./core/retention.ts";
export { handleSignals } from "./runtime/signals.ts";
export type { SignalOptions } from "./runtime/signals.ts";
export type { Checkpoint, CheckpointInfo, CheckpointOptions } from "./core/checkpoints.ts";
export type { Clock } from "./core/clock.ts";
