/**
 * The sidecar's one compaction path: POST /v1/compact and the --compact-every schedule both call
 * `run()`, so they apply core's policy the same way, one at a time, with the same counters.
 */
import { CkptError, ErrorCode } from "../core/errors.ts";
import { compactLog, type CompactionReport, type RetentionPolicy } from "../core/retention.ts";
import type { Store } from "../core/store.ts";
import type { GuardedLog } from "./guarded-log.ts";
import type { Metrics } from "./metrics.ts";

export type Trigger = "schedule" | "request";

export type CompactionNotice =
  | { kind: "report"; trigger: Trigger; report: CompactionReport }
  | { kind: "failed"; trigger: Trigger; error: unknown }
  | { kind: "skipped"; trigger: Trigger; reason: string }
  /** A graceful shutdown stopped it between two stages: not a failure, the next run carries on. */
  | { kind: "stopped"; trigger: Trigger; error: CkptError };

/** Thrown out of compactLog's progress callback to stop between two stages (each stage is atomic). */
class Stopped extends Error {}

export class Compactor {
  private tail: Promise<unknown> = Promise.resolve();
  private active = 0;
  private stopping = false;

  constructor(
    private readonly log: GuardedLog,
    private readonly store: Store,
    private readonly metrics: Metrics,
    private readonly notify: (n: CompactionNotice) => void = () => undefined,
  ) {}

  /** True while a compaction runs or waits for its turn. */
  get busy(): boolean {
    return this.active > 0;
  }

  /**
   * Applies `policy` once another compaction in flight has finished (never two at once: both
   * would read, fold and truncate the same stages). Dry runs change nothing and are not counted.
   */
  run(policy: RetentionPolicy, trigger: Trigger): Promise<CompactionReport> {
    this.active++;
    const p = this.tail.then(() => this.once(policy, trigger));
    this.tail = p.catch(() => undefined);
    return p.finally(() => this.active--);
  }

  /** Refuses new compactions, stops the one in flight before its next stage, and waits for it. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.tail;
  }

  private async once(policy: RetentionPolicy, trigger: Trigger): Promise<CompactionReport> {
    if (this.stopping) throw shuttingDown("before it started");
    this.metrics.compactionRunning = true;
    let done = 0;
    let of = 0;
    try {
      // compactLog rather than store.compact(): the status must come from the guarded log's
      // projections, which HTTP workers' appends keep current, not from a possibly stale writer.
      const report = await compactLog(this.log, policy, {
        // The store's clock decides which stages are old enough, as it stamped their events.
        now: this.store.clock.now(),
        // The projection is read outside the stage's lock, but the delete or truncate expects exactly its
        // revision: a worker's append in between makes the log refuse (CKPT_CONFLICT → skipped).
        withStage: async (stage, act) => {
          const s = (await this.log.projection(stage))?.state;
          const active = this.store.activeRuns().some((r) => r.stage === stage);
          const { report, deleted } = await act({ status: s?.status ?? "initialized", updatedAt: s?.updatedAt ?? null, revision: s?.revision ?? -1, active });
          // Drops the store's writer for the removed stage; "no_stream", so a stage a worker began since is left alone.
          if (deleted) await this.store.stage(stage).delete({ expectedRevision: "no_stream" }).catch((e: unknown) => {
            if (!(e instanceof CkptError && (e.code === ErrorCode.CONFLICT || e.code === ErrorCode.LOCKED))) throw e;
          });
          return report;
        },
        onProgress: (p) => {
          if (!this.stopping) return;
          done = p.index;
          of = p.of;
          throw new Stopped();
        },
        ...(this.log.sizeBytes ? { sizeBytes: () => this.log.sizeBytes!() } : {}),
      });
      if (!report.dryRun) {
        this.metrics.observeCompaction(trigger, report);
        this.notify({ kind: "report", trigger, report });
      }
      return report;
    } catch (err) {
      if (err instanceof Stopped) {
        const error = shuttingDown(`after ${done} of ${of} stages`);
        this.notify({ kind: "stopped", trigger, error });
        throw error;
      }
      // A policy the caller got wrong is their 400, not a failure of the sidecar.
      if (!(err instanceof CkptError && err.code === ErrorCode.INVALID)) {
        this.metrics.compactionFailures++;
        this.notify({ kind: "failed", trigger, error: err });
      }
      throw err;
    } finally {
      this.metrics.compactionRunning = false;
    }
  }
}

function shuttingDown(when: string): CkptError {
  return new CkptError(
    ErrorCode.UNAVAILABLE,
    `The sidecar is shutting down, so compaction stopped ${when} (each stage is compacted whole or not at all); run it again once the sidecar is back.`,
  );
}

/** One line for the sidecar's log, e.g. "compaction (schedule): 2 of 5 stages touched, 700 events removed, 1.2 MiB reclaimed, 41 ms". */
export function describeCompaction(n: CompactionNotice): string {
  if (n.kind === "skipped") return `compaction (${n.trigger}) skipped: ${n.reason}`;
  if (n.kind === "stopped") return `compaction (${n.trigger}) stopped: ${n.error.message}`;
  if (n.kind === "failed") return `compaction (${n.trigger}) failed: ${(n.error as Error)?.message ?? String(n.error)}`;
  const r = n.report;
  const deleted = r.stagesDeleted > 0 ? ` (${r.stagesDeleted} deleted)` : "";
  const reclaimed = r.bytesReclaimed === null ? "bytes reclaimed unknown" : `${formatBytes(r.bytesReclaimed)} reclaimed`;
  return `compaction (${n.trigger}): ${r.stagesTouched} of ${r.stages.length} stages touched${deleted}, ${r.eventsRemoved} events removed, ${reclaimed}, ${r.durationMs} ms`;
}

function formatBytes(n: number): string {
  const sign = n < 0 ? "-" : "";
  const a = Math.abs(n);
  if (a < 1024) return `${sign}${a} B`;
  if (a < 1024 * 1024) return `${sign}${(a / 1024).toFixed(1)} KiB`;
  return `${sign}${(a / 1024 / 1024).toFixed(1)} MiB`;
}
