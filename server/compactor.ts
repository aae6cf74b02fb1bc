/**
 * The sidecar's one compaction path: POST /v1/compact and the --compact-every schedule both call
 * `run()`, so they apply core's policy the same way, one at a time, with the same counters.
 */
import { CkptError, ErrorCode } from "../core/errors.ts";
import { type CompactionReport, compactLog, type RetentionPolicy } from "../core/retention.ts";
import type { Store } from "../core/store.ts";
import type { GuardedLog } from "./guarded-log.ts";
import type { CompactionNotice, Trigger } from "./compaction-notice.ts";
import type { Metrics } from "./metrics.ts";

/**
 * Thrown out of compactLog's progress callback to stop between two stages (each stage is atomic).
 */
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
        // The projection is read outside the stage's lock, but the delete or truncate expects
        // exactly its revision: a worker's append in between makes the log refuse (CKPT_CONFLICT →
        // skipped).
        withStage: async (stage, act) => {
          const s = (await this.log.projection(stage))?.state;
          const active = this.store.activeRuns().some((r) => r.stage === stage);
          const { report, deleted } = await act({
            status: s?.status ?? "initialized",
            updatedAt: s?.updatedAt ?? null,
            revision: s?.revision ?? -1,
            active,
          });
          // Drops the store's writer for the removed stage; "no_stream", so a stage a worker began
          // since is left alone.
          if (deleted) {
            await this.store.stage(stage).delete({ expectedRevision: "no_stream" }).catch(
              (e: unknown) => {
                if (
                  !(e instanceof CkptError &&
                    (e.code === ErrorCode.CONFLICT || e.code === ErrorCode.LOCKED))
                ) throw e;
              },
            );
          }
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
