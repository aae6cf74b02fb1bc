/**
 * A run: one process working through a stage. Every method records an event; `done()` resolves
 * once that event is durable, `mark()` does not wait (durability comes with `flush()`), and both
 * slow the caller down rather than let memory grow when the write path falls behind.
 */
import type { CheckpointOptions } from "./checkpoints.ts";
import {
  type Call,
  decide,
  decideItem,
  type ErrorOptions,
  type FailOptions,
  type ItemOptions,
  NO_OPTIONS,
  type ProgressOptions,
} from "./decide.ts";
import { CkptError, ErrorCode } from "./errors.ts";
import type { CkptEvent } from "./events.ts";
import { isDone, type StageState, type UnitState } from "./state.ts";
import type { RunLimits, StageWriter } from "./writer.ts";
import { type Clock, systemClock } from "./clock.ts";

export type { ErrorOptions, FailOptions, ItemOptions, ProgressOptions } from "./decide.ts";

export interface ResumeInfo {
  /** The status the stage was in before this run began. */
  from: StageState["status"];
  /** A previous run died without pausing, completing or failing. */
  crashed: boolean;
  /** Items already done that this run will skip. */
  skipped: number;
  /** Done items the `verify` check rejected, reopened to be redone. */
  reopened: number;
  /** The stage was reset because its input or config changed (`onChange: "restart"`). */
  restarted: boolean;
  message: string;
}

export type { RunLimits } from "./writer.ts";

/** Per-unit progress for paged work: one keyed sub-task such as `org/repo:pulls`. */
export interface Unit {
  readonly key: string;
  /** The unit's progress so far, or undefined before its first update. */
  readonly state: UnitState | undefined;
  /** The page to fetch next: one past the last page written, or `firstPage`. */
  nextPage(firstPage?: number): number;
  /** Records page `page` (and the records it held) as written. */
  page(page: number, options?: { records?: number }): Promise<void>;
  complete(options?: { records?: number }): Promise<void>;
  fail(error: string | Error, options?: FailOptions): Promise<void>;
  readonly done: boolean;
}

/** What updates get once the process is shutting down: they are not recorded and never settle. */
const NEVER: Promise<void> = new Promise(() => {});

export class Run {
  private closed = false;
  private halted = false;
  private lost = false;
  private heartbeat: unknown;

  constructor(
    private readonly writer: StageWriter,
    readonly id: string,
    readonly resumed: ResumeInfo,
    private readonly limits: RunLimits,
    private readonly onEnd: (run: Run) => void,
    leaseMs: number | null,
    private readonly clock: Clock = systemClock,
  ) {
    if (leaseMs) {
      // Only logs shared by several processes use leases: an idle owner renews its claim.
      this.heartbeat = clock.setInterval(() => {
        // Renewing at a quarter of the lease leaves room for a busy event loop before the claim
        // lapses. A failed writer stays failed until the stage is begun again: nothing to renew
        // until then.
        if (this.halted || this.writer.status !== "idle") return;
        if (
          this.writer.state.status === "running" &&
          clock.now() - (this.writer.state.updatedAt ?? 0) > leaseMs / 4
        ) {
          this.writer.waitFor(
            this.writer.enqueue(
              decide(this.writer.state, { call: "heartbeat", runId: id }, clock.now()),
            ),
          ).catch(() => undefined);
        }
      }, Math.max(50, Math.floor(leaseMs / 4)));
      (this.heartbeat as { unref?: () => void }).unref?.(); // an idle heartbeat must not keep the process alive
    }
  }

  get stage(): string {
    return this.writer.stream;
  }

  /** The state including updates not yet durable. Read-only: a live view, not a copy. */
  get state(): Readonly<StageState> {
    return this.writer.state;
  }

  /** Has `index` been recorded (in this run or any before it)? */
  isDone(index: number): boolean {
    return isDone(this.writer.state, index);
  }

  /**
   * Records item `index` and resolves once the record is durable. Save the item's output first,
   * then call `done`: a crash in between redoes the item, never skips it.
   * @example for (const i of todo) { await save(i); await run.done(i, { item: urls[i] }) }
   */
  done(index: number, options: ItemOptions = NO_OPTIONS): Promise<void> {
    if (this.halted) return NEVER;
    // Not an async function: the common case returns the writer's own wait, one promise and no
    // extra hop per call. Refusals still arrive as rejections, never as throws.
    try {
      this.checkOpen();
      const event = decideItem(this.writer.state, index, options, this.clock.now());
      const room = this.writer.roomFor(index, this.limits, this.clock);
      if (room) return this.doneWhenRoom(index, room, event);
      return this.writer.waitFor(this.writer.enqueue([event]));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The waiting done(): queues the event decided before the wait once there is room. */
  private async doneWhenRoom(
    index: number,
    room: Promise<void> | undefined,
    event: CkptEvent,
  ): Promise<void> {
    for (; room; room = this.writer.roomFor(index, this.limits, this.clock)) await room;
    await this.writer.waitFor(this.writer.enqueue([event]));
  }

  /**
   * Records item `index` without waiting for it to be durable; `await run.flush()` confirms.
   * Returns a promise only when the write path is behind (or too many items are done out of
   * order): await it then, and memory stays bounded.
   * @example for (const i of todo) { work(i); const wait = run.mark(i); if (wait) await wait } await run.flush()
   */
  mark(index: number, options: ItemOptions = NO_OPTIONS): Promise<void> | undefined {
    if (this.halted) return undefined;
    this.checkOpen();
    const event = decideItem(this.writer.state, index, options, this.clock.now());
    const room = this.writer.roomFor(index, this.limits, this.clock);
    if (room) return this.markWhenRoom(index, room, event);
    this.writer.enqueue([event]);
    return this.writer.overHighWater ? this.writer.belowHighWater() : undefined;
  }

  /**
   * The waiting mark(): resolves once the item is recorded (so `isDone` agrees), rejecting with
   * whatever stopped it.
   */
  private async markWhenRoom(
    index: number,
    room: Promise<void> | undefined,
    event: CkptEvent,
  ): Promise<void> {
    for (; room; room = this.writer.roomFor(index, this.limits, this.clock)) await room;
    if (this.halted) return NEVER;
    this.checkOpen();
    this.writer.enqueue([event]);
    if (this.writer.overHighWater) await this.writer.belowHighWater();
  }

  /** Resolves once everything recorded so far is durable. */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  /** Counts items without indices, or updates the total. */
  progress(p: ProgressOptions): Promise<void> {
    return this.record({ call: "progress", progress: p });
  }

  /** Records an error that did not stop the run. */
  error(error: string | Error, options: ErrorOptions = {}): Promise<void> {
    return this.record({ call: "error", error, options });
  }

  /**
   * Saves a state checkpoint (any msgpack-able value up to 1 MiB) and resolves once it is durable;
   * `stage.latest()` loads it after a crash.
   * @example await run.checkpoint({ iteration: 5, params }, { step: 5, metadata: { loss: 0.12 } })
   */
  async checkpoint(state: unknown, options: CheckpointOptions = {}): Promise<void> {
    await this.record({ call: "checkpoint", state, options });
  }

  /** Merges `metadata` into the stage's metadata (kept across runs). */
  metadata(metadata: Record<string, unknown>): Promise<void> {
    return this.record({ call: "metadata", metadata });
  }

  unit(key: string): Unit {
    // The key is checked when the unit records (a rejection like every other update), not when it
    // is named.
    const run = this;
    return {
      key,
      get state() {
        return run.writer.state.units[key];
      },
      get done() {
        return run.writer.state.units[key]?.status === "complete";
      },
      nextPage(firstPage = 1) {
        const page = run.writer.state.units[key]?.page;
        return page === null || page === undefined ? firstPage : page + 1;
      },
      page: (page, options = {}) => run.record({ call: "unit.page", key, page, options }),
      complete: (options = {}) => run.record({ call: "unit.complete", key, options }),
      fail: (error, options = {}) => run.record({ call: "unit.fail", key, error, options }),
    };
  }

  pause(reason?: string): Promise<void> {
    return this.record(reason === undefined ? { call: "pause" } : { call: "pause", reason }, true);
  }

  resume(): Promise<void> {
    return this.record({ call: "resume" });
  }

  /** Marks the stage completed, merging `metadata`, and ends the run. */
  async complete(metadata?: Record<string, unknown>): Promise<void> {
    await this.record(
      metadata === undefined ? { call: "complete" } : { call: "complete", metadata },
    );
    this.end();
  }

  /** Marks the stage failed and ends the run. */
  async fail(error: string | Error, options: FailOptions = {}): Promise<void> {
    await this.record({ call: "fail", error, options });
    this.end();
  }

  /**
   * Writes what is pending and releases the stage without changing its status. When an update of
   * this run never reached the log (the sticky error), rejects with that error but still releases
   * the stage, so `stage.begin()` can start over from what the log really holds.
   */
  async close(): Promise<void> {
    try {
      await this.writer.flush();
    } catch (err) {
      this.lost = true;
      throw err;
    } finally {
      this.end();
    }
  }

  get ended(): boolean {
    return this.closed;
  }

  /**
   * Stops renewing the lease on a timer: for a run held for a remote client, whose own updates
   * renew it.
   */
  stopHeartbeat(): void {
    if (this.heartbeat !== undefined) this.clock.clear(this.heartbeat);
    this.heartbeat = undefined;
  }

  /**
   * The run ended with updates that never reached the log: its lease is void (see `stage.begin()`).
   */
  get abandoned(): boolean {
    return this.lost;
  }

  private end(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat !== undefined) this.clock.clear(this.heartbeat);
    this.onEnd(this);
  }

  /**
   * Stops recording for a graceful shutdown: later updates from workers still in flight are
   * dropped (their items will be redone, never skipped) instead of throwing into user code
   * while the process exits.
   */
  halt(): void {
    this.halted = true;
  }

  /**
   * Decides the call on the state as it stands (a refusal queues nothing), queues its events, and
   * waits until they are durable.
   */
  private async record(call: Call, force = false): Promise<void> {
    if (this.halted && !force) return NEVER;
    this.checkOpen();
    await this.writer.waitFor(
      this.writer.enqueue(decide(this.writer.state, call, this.clock.now())),
    );
  }

  private checkOpen(): void {
    if (this.closed) {
      throw new CkptError(
        ErrorCode.CLOSED,
        `Run ${this.id} of stage "${this.stage}" has ended; call stage.begin() for a new one.`,
      );
    }
  }
}
