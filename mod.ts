/**
 * ckpt's entry point: `open()` picks the log (LevelDB folder by default, memory, or one you
 * pass) and wires in the runtime. Everything else is re-exported from core.
 */
import { levelLog, type Durability } from "./adapters/level.ts";
import { memoryLog } from "./adapters/memory.ts";
import type { EventLog } from "./core/log.ts";
import { Store, type StoreOptions } from "./core/store.ts";
import { runtimePlatform } from "./runtime/platform.ts";

export interface OpenOptions extends StoreOptions {
  /** LevelDB folder. Default: `$CKPT_STORE`, else `./.ckpt`. */
  path?: string;
  /** "sync" (default): fsync per group commit. "os": survives a process crash, not a power cut. */
  durability?: Durability;
  /** Keep everything in memory (tests, throwaway runs). */
  memory?: boolean;
  /** Any EventLog (EventStoreDB, HTTP, your own). */
  log?: EventLog;
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
  const log = options.log ??
    (options.memory ? memoryLog() : await levelLog(options.path ?? runtimePlatform.env("CKPT_STORE") ?? "./.ckpt", options.durability === undefined ? {} : { durability: options.durability }));
  return new Store(log, { platform: runtimePlatform, ...options });
}

export { levelLog, memoryLog, Store };
export type { Durability, EventLog, StoreOptions };
export { CkptError, ErrorCode, isCkptError } from "./core/errors.ts";
export type { Issue } from "./core/errors.ts";
export { CkptEvent, EVENT_TYPES, parseEvent, checkStageName } from "./core/events.ts";
export type { EventType, NewEvent } from "./core/events.ts";
export type { AppendOptions, ExpectedRevision, ReadOptions, RecordedEvent, Revision, Snapshot, StreamInfo, Supports } from "./core/log.ts";
export { evolve, initialState, isDone, REDUCER_VERSION, Status } from "./core/state.ts";
export type { StageState, UnitState } from "./core/state.ts";
export type { History, RunSummary, StatusChange } from "./core/history.ts";
export { progressOf } from "./core/progress.ts";
export type { ProgressFigures } from "./core/progress.ts";
export { Run } from "./core/run.ts";
export type { ItemOptions, ResumeInfo, Unit } from "./core/run.ts";
export { Stage } from "./core/stage.ts";
export type { BeginOptions, InputSource, ReplayEntry, ReplayOptions } from "./core/stage.ts";
export { shutdown } from "./core/store.ts";
export type { StageSummary } from "./core/store.ts";
export { canonicalJson, configDigest, sha256 } from "./core/fingerprint.ts";
export { parseDuration } from "./core/retention.ts";
export type { CompactionProgress, CompactionReport, RetentionPolicy, StageReport } from "./core/retention.ts";
export { handleSignals } from "./runtime/signals.ts";
