/**
 * The store: a set of stages over one EventLog. Owns one writer per stage (so one process
 * never races itself) and the runs active in this process.
 */
import { CkptError, ErrorCode } from "./errors.ts";
import { checkStageName } from "./events.ts";
import type { EventLog } from "./log.ts";
import { nullPlatform, type Platform } from "./platform.ts";
import { type Clock, systemClock } from "./clock.ts";
import { type ProgressFigures, progressOf } from "./progress.ts";
import {
  type CompactionProgress,
  type CompactionReport,
  compactLog,
  type RetentionPolicy,
} from "./retention.ts";
import type { Run, RunLimits } from "./run.ts";
import { Stage } from "./stage.ts";
import { cloneState, type StageState, type Status } from "./state.ts";
import type { StoreContext } from "./store-context.ts";
import {
  CompactOptionsSchema,
  PolicySchema,
  StagesOptionsSchema,
  StoreOptionsSchema,
  UnitKeySchema,
} from "./options.ts";
import { parseArg } from "./validate.ts";
import { DEFAULT_WRITER_OPTIONS, StageWriter, type WriterOptions } from "./writer.ts";

export interface StoreOptions extends Partial<WriterOptions>, Partial<RunLimits> {
  platform?: Platform;
  /** Time and timers (default the system clock); tests pass a manual one to drive time. */
  clock?: Clock;
  /** A running stage silent for this long is flagged stale. Default 5 minutes. */
  staleAfterMs?: number;
}

export interface StageSummary {
  stage: string;
  status: Status;
  state: StageState;
  progress: ProgressFigures;
}

export class Store {
  private readonly writers = new Map<string, Promise<StageWriter>>();
  private readonly runs = new Map<string, Run>();
  private readonly abandoned = new Set<string>();
  private isClosed = false;
  private readonly writerOptions: WriterOptions;
  private readonly ctx: StoreContext;
  readonly staleAfterMs: number;
  readonly clock: Clock;

  constructor(
    readonly log: EventLog,
    options: StoreOptions = {},
  ) {
    parseArg(StoreOptionsSchema, options, "new Store() / open()");
    this.writerOptions = {
      snapshotEvery: options.snapshotEvery ?? DEFAULT_WRITER_OPTIONS.snapshotEvery,
      maxBatch: options.maxBatch ?? DEFAULT_WRITER_OPTIONS.maxBatch,
      highWater: options.highWater ?? DEFAULT_WRITER_OPTIONS.highWater,
    };
    this.staleAfterMs = options.staleAfterMs ?? 5 * 60_000;
    const limits: RunLimits = {
      maxRanges: options.maxRanges ?? 50_000,
      sparseTimeoutMs: options.sparseTimeoutMs ?? 60_000,
    };
    const self = this;
    this.clock = options.clock ?? systemClock;
    this.ctx = {
      log,
      clock: this.clock,
      platform: options.platform ?? nullPlatform,
      limits,
      get closed() {
        return self.isClosed;
      },
      checkOpen: () => this.checkOpen(),
      writer: (name) => this.writer(name),
      dropWriter: async (name) => {
        const w = this.writers.get(name);
        this.writers.delete(name);
        if (w) await (await w).close();
      },
      activeRun: (name) => this.runs.get(name),
      startRun: (name, run) => void this.runs.set(name, run),
      endRun: (name, run) => {
        if (this.runs.get(name) === run) this.runs.delete(name);
        if (run.abandoned) this.abandoned.add(run.id);
      },
      abandoned: this.abandoned,
    };
  }

  /**
   * A stage by name (letters, digits and `. _ : @ = + -`; CKPT_INVALID otherwise).
   * @example const stage = store.stage("fetch-pages")
   */
  stage(name: string): Stage {
    this.checkOpen();
    if (typeof name !== "string") parseArg(UnitKeySchema, name, "store.stage(name)");
    return new Stage(this.ctx, checkStageName(name));
  }

  /** Every stage with its state and progress figures, sorted by name. */
  async stages(
    options: { prefix?: string; status?: Status | Status[] } = {},
  ): Promise<StageSummary[]> {
    this.checkOpen();
    parseArg(StagesOptionsSchema, options, "store.stages()");
    const infos = await this.log.streams(
      options.prefix === undefined ? {} : { prefix: options.prefix },
    );
    const want = options.status === undefined
      ? undefined
      : new Set(Array.isArray(options.status) ? options.status : [options.status]);
    const now = this.clock.now();
    const out: StageSummary[] = [];
    for (const info of infos) {
      const w = await this.writer(info.stream);
      if (this.log.supports.multiProcess) await w.catchUp();
      const state = cloneState(w.state);
      if (want && !want.has(state.status)) continue;
      out.push({
        stage: info.stream,
        status: state.status,
        state,
        progress: progressOf(state, now, this.staleAfterMs),
      });
    }
    return out;
  }

  /**
   * Applies a retention policy to every stage (see core/retention.ts): folds old events into a
   * base snapshot, removes stages past their TTL, never touches running stages.
   * @example await store.compact({ maxAgeMs: 7 * 86_400_000, minEvents: 1000 })
   */
  async compact(
    policy: RetentionPolicy,
    options: { onProgress?: (p: CompactionProgress) => void } = {},
  ): Promise<CompactionReport> {
    this.checkOpen();
    parseArg(PolicySchema, policy, "store.compact(policy)");
    parseArg(CompactOptionsSchema, options, "store.compact(policy, options)");
    const log = this.log;
    return compactLog(log, policy, {
      // Decided and done under the stage writer's lock: a begin() racing it either lands first (and
      // the stage is live, so skipped) or waits, and the log refuses a change to a head that moved.
      withStage: async (name, act) =>
        (await this.writer(name)).maintain(async (state, queued) => {
          const { report, deleted } = await act({
            status: state.status,
            updatedAt: state.updatedAt,
            revision: state.revision,
            active: this.runs.has(name) || queued > 0,
          });
          return { result: report, deleted };
        }),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      now: this.clock.now(),
      ...(log.sizeBytes ? { sizeBytes: () => log.sizeBytes!() } : {}),
    });
  }

  /** Runs active in this process, by stage. */
  activeRuns(): Run[] {
    return [...this.runs.values()];
  }

  /** Everything recorded so far is durable when this resolves. */
  async flush(): Promise<void> {
    // A writer that failed to load holds nothing to flush; one that failed to write rejects with
    // its sticky error.
    await Promise.all(
      [...this.writers.values()].map(async (w) => (await w.catch(() => undefined))?.flush()),
    );
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Writes what is pending, records runs still active as paused (a clean stop, not a crash),
   * and closes the log.
   */
  async close(): Promise<void> {
    if (this.isClosed) return;
    // The first update that never reached the log (a writer's sticky error): close still releases
    // everything, then rejects with it, so a caller never takes a lost write for a clean stop.
    let lost: unknown;
    const keep = (e: unknown) => void (lost ??= e);
    for (const run of this.activeRuns()) {
      if (run.state.status === "running") await run.pause("store closed").catch(() => undefined);
      await run.close().catch(keep);
    }
    await Promise.all(
      [...this.writers.values()].map(async (w) =>
        (await w.catch(() => undefined))?.close().catch(keep)
      ),
    );
    this.isClosed = true;
    await this.log.close();
    if (lost !== undefined) throw lost;
  }

  private checkOpen(): void {
    if (this.isClosed) {
      throw new CkptError(
        ErrorCode.CLOSED,
        `The store at ${this.log.location} is closed; open it again.`,
      );
    }
  }

  private writer(name: string): Promise<StageWriter> {
    let w = this.writers.get(name);
    if (!w) {
      w = StageWriter.load(this.log, name, this.writerOptions);
      this.writers.set(name, w);
      w.catch(() => this.writers.delete(name));
    }
    return w;
  }
}

/**
 * Records every active run as paused (flushing what it had first), then closes the store.
 * What a SIGINT / SIGTERM handler should do; see `runtime/signals.ts`.
 */
export async function shutdown(store: Store, reason = "shutdown"): Promise<void> {
  if (store.closed) return;
  const runs = store.activeRuns();
  for (const run of runs) run.halt();
  for (const run of runs) {
    await run.flush().catch(() => undefined);
    if (run.state.status === "running") await run.pause(reason).catch(() => undefined);
    await run.close().catch(() => undefined);
  }
  await store.close();
}
