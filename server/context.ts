/**
 * What every route needs from the app: the store, its guarded log, held runs, metrics, the
 * compactor and limits.
 */
import type { Clock } from "../core/clock.ts";
import type { Store } from "../core/store.ts";
import type { Compactor } from "./compactor.ts";
import type { GuardedLog } from "./guarded-log.ts";
import type { Metrics } from "./metrics.ts";
import type { RunRegistry } from "./runs.ts";

export interface Limits {
  /** Bytes; JSON bodies of the high-level API. */
  bodyLimit: number;
  /**
   * Bytes; raw log appends and snapshots (a writer's group commit can carry thousands of events).
   */
  logBodyLimit: number;
  /** Requests handled at once before 429 (live-update streams not counted). */
  maxInFlight: number;
  /** Live-update streams open at once before 429. */
  maxWatchers: number;
  /** Comment line sent on idle live-update streams so proxies keep them open. */
  heartbeatMs: number;
}

export interface ServerContext {
  readonly store: Store;
  /**
   * The store's clock: every time the sidecar reads or waits for (leases, schedules, summaries)
   * comes from here.
   */
  readonly clock: Clock;
  readonly log: GuardedLog;
  readonly runs: RunRegistry;
  readonly metrics: Metrics;
  /** The one path to compaction, requested or scheduled. */
  readonly compactor: Compactor;
  readonly limits: Limits;
  /** Closes each open live-update stream (on shutdown). */
  readonly watchers: Set<() => void>;
  readonly status: { inFlight: number; draining: boolean };
  readonly version: string;
}
