/**
 * One stage's write path. Events are checked against the projected state, queued, and written
 * by a single loop: whatever queued while one append was in flight goes out in the next one
 * (group commit), so many concurrent `await run.done(i)` share one write and one fsync.
 * A caller's promise resolves only after the append that carries its event is acknowledged.
 *
 * The queue is one state machine field, changed only by `to()`: idle → writing → idle; idle or
 * writing → failed (sticky, holding the error: an event that was queued never reached the log, so
 * every later flush/done/close rejects with it until `recover()`, which `stage.begin()` calls, goes
 * back to idle); any → closed (final). One exception stays put: a lone lifecycle change that lost
 * its race to another writer on a shared log is refused to its caller only. Back-pressure (the
 * queue's high-water mark, the out-of-order ranges) is decided in one section below.
 */
import type { CkptEvent } from "./events.ts";
import { CkptError, ErrorCode, isCkptError } from "./errors.ts";
import { foldLog, loadProjection } from "./fold.ts";
import type { EventLog, RecordedEvent } from "./log.ts";
import {
  applyAllToProjection,
  cloneProjection,
  type Projection,
  toSnapshot,
} from "./projection.ts";
import type { Clock } from "./clock.ts";
import { type Backoff, retry } from "./retry.ts";
import { rangeCount, wouldAddRange } from "./resume-set.ts";
import { apply, checkEvents, cloneState, type StageState } from "./state.ts";

/** Kept here for callers that load a stage the way a writer does. */

export interface WriterOptions {
  /** Snapshot after this many events since the last one (and at every lifecycle change). */
  snapshotEvery: number;
  /** Most events carried by one append. */
  maxBatch: number;
  /** Queued (not yet written) events above which `mark()` asks callers to wait. */
  highWater: number;
}

/** How far items may run out of order before their callers wait (a run's part of back-pressure). */
export interface RunLimits {
  /** Most ranges of out-of-order items kept beyond the watermark before callers wait. */
  maxRanges: number;
  /** How long a caller waits for out-of-order ranges to close before CKPT_TOO_SPARSE. */
  sparseTimeoutMs: number;
}

export const DEFAULT_WRITER_OPTIONS: WriterOptions = {
  snapshotEvery: 10_000,
  maxBatch: 20_000,
  highWater: 100_000,
};

/** Events that never trigger a snapshot on their own: the hot path. */
const HOT = new Set<CkptEvent["type"]>([
  "item",
  "progress",
  "unit",
  "heartbeat",
  "error",
  "metadata",
]);

/**
 * Waits between rebase attempts: none before the first retry, then up to 2, 4, … 100 ms (full
 * jitter).
 */
const REBASE_BACKOFF: Backoff = { firstMs: 1, maxMs: 100 };

/**
 * Conflicts of lifecycle batches that no longer fit after a rebase: a refusal, not a lost write.
 */
const lostRaces = new WeakSet<object>();

export type CommitListener = (events: RecordedEvent[], state: Readonly<StageState>) => void;

interface Waiter {
  seq: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** Where the queue stands; see the file header for the transitions. */
export type WriterPhase = "idle" | "writing" | "failed" | "closed";

/** The queue's state machine; `failed` and `closed` hold the error every later call gets. */
type Phase = { name: "idle" } | { name: "writing" } | { name: "failed"; error: CkptError } | {
  name: "closed";
  error: CkptError;
};

const IDLE: Phase = { name: "idle" };
const WRITING: Phase = { name: "writing" };

/** The phases each phase may be entered from (closed is final: nothing leaves it). */
const ENTERED_FROM: Record<WriterPhase, readonly WriterPhase[]> = {
  idle: ["writing", "failed"],
  writing: ["idle"],
  failed: ["idle", "writing"],
  closed: ["idle", "writing", "failed"],
};

export interface LoadStats {
  /** Events read from the log to rebuild state (after the snapshot, if one was used). */
  eventsRead: number;
  snapshotRevision: number | null;
}

export class StageWriter {
  private durable: Projection;
  private projected: StageState;
  private queue: CkptEvent[] = [];
  private waiters: Waiter[] = [];
  /**
   * One wait for room shared by every caller over the high-water mark until the queue drains: a
   * promise per caller would hold memory per queued event exactly when the queue is longest.
   */
  private roomWait:
    | { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void }
    | undefined;
  private enqueued = 0;
  private committed = 0;
  private phase: Phase = IDLE;
  private lastSnapshotRevision: number;
  private listeners = new Set<CommitListener>();
  private failListeners = new Set<(error: CkptError) => void>();
  private ioLock: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly log: EventLog,
    readonly stream: string,
    projection: Projection,
    snapshotRevision: number,
    private readonly options: WriterOptions,
    readonly loadStats: LoadStats,
  ) {
    this.durable = projection;
    this.projected = cloneState(projection.state);
    this.lastSnapshotRevision = snapshotRevision;
  }

  /** Rebuilds a stage: latest snapshot plus the events after it (never more). */
  static async load(log: EventLog, stream: string, options: WriterOptions): Promise<StageWriter> {
    const { projection, snapshotRevision, eventsRead } = await loadProjection(log, stream);
    return new StageWriter(log, stream, projection, snapshotRevision, options, {
      eventsRead,
      snapshotRevision: snapshotRevision < 0 ? null : snapshotRevision,
    });
  }

  /** State including queued events (what callers see right away). */
  get state(): Readonly<StageState> {
    return this.projected;
  }

  /** State and history as of the last acknowledged write. */
  get durableProjection(): Readonly<Projection> {
    return this.durable;
  }

  /** Events recorded but not yet acknowledged by the log. */
  get pending(): number {
    return this.enqueued - this.committed;
  }

  get status(): WriterPhase {
    return this.phase.name;
  }

  /** The sticky error of the `failed` phase (or CKPT_CLOSED once closed); undefined otherwise. */
  get error(): CkptError | undefined {
    return this.phase.name === "failed" || this.phase.name === "closed"
      ? this.phase.error
      : undefined;
  }

  /**
   * The one place the phase changes. Entering `writing` starts the drain loop; entering `failed`
   * rejects every waiter with the sticky error and tells the fail listeners. Leaving `closed`, or
   * failing again while failed, is ignored: the first error stays.
   */
  private to(next: Phase): void {
    const from = this.phase.name;
    if (from === "closed" || (from === "failed" && next.name === "failed")) return;
    if (!ENTERED_FROM[next.name].includes(from)) {
      throw new Error(`ckpt internal error: writer phase ${from} → ${next.name}`);
    }
    this.phase = next;
    if (next.name === "writing") queueMicrotask(() => void this.drain());
    if (next.name === "failed") {
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w.reject(next.error);
      this.roomWait?.reject(next.error);
      this.roomWait = undefined;
      for (const l of [...this.failListeners]) l(next.error);
    }
  }

  // Back-pressure, decided here only: callers ask before they queue, and wait on what this says.

  /**
   * Queued (not yet written) events are at the high-water mark: `mark()` asks its caller to wait.
   */
  get overHighWater(): boolean {
    return this.pending >= this.options.highWater;
  }

  /**
   * Item `index` would open one more range of out-of-order items when `maxRanges` are open already:
   * its caller waits for gaps to fill.
   */
  tooSparse(index: number, maxRanges: number): boolean {
    const r = this.projected.resume;
    return rangeCount(r) >= maxRanges && wouldAddRange(r, index);
  }

  /**
   * Undefined when item `index` may be queued now; else a wait for the gaps below it to fill,
   * rejecting with CKPT_TOO_SPARSE after `sparseTimeoutMs` or with the sticky error once the writer
   * fails. Ask again after it resolves, and queue in that same turn: other callers woken by the
   * same commit may have taken the room.
   */
  roomFor(index: number, limits: RunLimits, clock: Clock): Promise<void> | undefined {
    if (!this.tooSparse(index, limits.maxRanges)) return undefined;
    // A failed writer will never commit the gap-fillers: the wait ends with its sticky error, at
    // once.
    if (this.phase.name === "failed") return Promise.reject(this.phase.error);
    return new Promise((resolve, reject) => {
      const offFail = this.onFail((error) => {
        clock.clear(timer);
        off();
        offFail();
        reject(error);
      });
      const timer = clock.setTimeout(() => {
        off();
        offFail();
        reject(
          new CkptError(
            ErrorCode.TOO_SPARSE,
            `Stage "${this.stream}" has ${limits.maxRanges} ranges of items done out of order beyond index ${this.projected.resume.watermark}; ` +
              `item ${index} waited ${limits.sparseTimeoutMs} ms for the gaps to fill. Finish the lower items first, or raise maxRanges.`,
          ),
        );
      }, limits.sparseTimeoutMs);
      const off = this.onCommit(() => {
        if (!this.tooSparse(index, limits.maxRanges)) {
          clock.clear(timer);
          off();
          offFail();
          resolve();
        }
      });
    });
  }

  /** Callers waiting for room wake once the queue is back under half the high-water mark. */
  private get roomAgain(): boolean {
    return this.pending < this.options.highWater / 2;
  }

  onCommit(listener: CommitListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Calls `listener` with the sticky error when the writer turns `failed` (a caller waiting for
   * room wakes on it).
   */
  onFail(listener: (error: CkptError) => void): () => void {
    this.failListeners.add(listener);
    return () => this.failListeners.delete(listener);
  }

  /**
   * Checks `events` against the projected state (all or nothing), queues them and returns the
   * sequence number to `waitFor`. Throws CKPT_BAD_TRANSITION / CKPT_CLOSED without queueing.
   */
  enqueue(events: readonly CkptEvent[]): number {
    if (this.phase.name === "failed" || this.phase.name === "closed") throw this.phase.error;
    // One event needs no separate check: apply checks its transition before changing anything.
    if (events.length > 1) checkEvents(this.projected, events);
    let rev = this.projected.revision;
    for (const e of events) apply(this.projected, e, ++rev);
    for (const e of events) this.queue.push(e);
    this.enqueued += events.length;
    if (this.phase.name === "idle") this.to(WRITING);
    return this.enqueued;
  }

  /**
   * Resolves once every event up to `seq` is acknowledged by the log; rejects with the sticky error
   * once failed.
   */
  waitFor(seq: number): Promise<void> {
    if (this.phase.name === "failed") return Promise.reject(this.phase.error);
    if (seq <= this.committed) return Promise.resolve();
    if (this.phase.name === "closed") return Promise.reject(this.phase.error);
    const p = new Promise<void>(this.capture);
    this.waiters.push({ seq, resolve: this.captured!, reject: this.capturedReject! });
    return p;
  }

  // One executor for every wait (no closure per call): it hands the promise's functions over.
  private captured: (() => void) | undefined;
  private capturedReject: ((e: unknown) => void) | undefined;
  private readonly capture = (resolve: () => void, reject: (e: unknown) => void): void => {
    this.captured = resolve;
    this.capturedReject = reject;
  };

  /**
   * Resolves once everything queued so far is written; rejects with the sticky error once failed.
   */
  flush(): Promise<void> {
    return this.waitFor(this.enqueued);
  }

  /**
   * Resolves when the queue is back under half the high-water mark; rejects with the sticky error
   * once failed.
   */
  belowHighWater(): Promise<void> {
    if (this.phase.name === "failed") return Promise.reject(this.phase.error);
    if (!this.overHighWater) return Promise.resolve();
    if (!this.roomWait) {
      let resolve!: () => void, reject!: (e: unknown) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.roomWait = { promise, resolve, reject };
    }
    return this.roomWait.promise;
  }

  /** Writes queued events until none are left, one append per batch. */
  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0 && this.phase.name === "writing") {
        // Taken from the queue only once the lock is ours, so a catch-up never sees an event in
        // neither place.
        await this.exclusive(() => this.commit(this.queue.splice(0, this.options.maxBatch)));
      }
    } finally {
      if (this.phase.name === "writing") {
        this.to(IDLE);
        // Something may have been queued between the last check and here.
        if (this.queue.length > 0) this.to(WRITING);
      }
    }
  }

  private async commit(batch: CkptEvent[]): Promise<void> {
    if (batch.length === 0) return;
    const from = this.durable.state.revision;
    const wantSnapshot =
      from + batch.length - this.lastSnapshotRevision >= this.options.snapshotEvery ||
      batch.some((e) => !HOT.has(e.type));
    let next: Projection | undefined;
    if (wantSnapshot) {
      next = cloneProjection(this.durable);
      applyAllToProjection(next, batch, from);
    }
    const snapshot = next && toSnapshot(next);
    try {
      await this.appendWithRebase(
        batch,
        from,
        this.log.supports.atomicSnapshot ? snapshot : undefined,
      );
    } catch (err) {
      // A lone lifecycle change that lost its race to another writer (say, a pause after someone
      // else completed the stage) is refused to its caller; nothing else was queued, so nothing
      // else is lost.
      if (
        lostRaces.has(err as object) && this.queue.length === 0 &&
        !batch.some((e) => HOT.has(e.type))
      ) this.refuse(err as CkptError);
      else this.fail(err);
      return;
    }
    const head = this.durable.state.revision;
    const rebased = head !== from;
    if (next && !rebased) this.durable = next;
    else applyAllToProjection(this.durable, batch, head);
    if (snapshot) {
      this.lastSnapshotRevision = this.durable.state.revision;
      if (!this.log.supports.atomicSnapshot) {
        // Written after the events it covers, so it can never run ahead of them.
        await this.log.saveSnapshot(this.stream, toSnapshot(this.durable)).catch(() => undefined);
      }
    }
    this.committed += batch.length;
    this.settle();
    if (rebased) this.reproject();
    if (this.listeners.size === 0) return;
    // Only built for someone listening (a watch, a caller waiting for room).
    let rev = head;
    const recorded: RecordedEvent[] = batch.map((event) => ({ revision: ++rev, event }));
    for (const l of this.listeners) l(recorded, this.durable.state);
  }

  /**
   * Appends at the durable head. On logs shared by several processes a conflict means another
   * writer got there first: fold its events in, re-check ours against the new state, retry.
   */
  private async appendWithRebase(
    batch: CkptEvent[],
    from: number,
    snapshot: ReturnType<typeof toSnapshot> | undefined,
  ): Promise<void> {
    // Item-like batches commute, so joined writers retry them for as long as others keep winning
    // (each lost race folds the winners' events in, so the stage moves on); lifecycle batches give
    // up.
    const commutes = batch.every((e) => HOT.has(e.type));
    await retry(
      async (attempt) => {
        if (attempt > 0) {
          await this.catchUpAlone(false);
          this.recheck(batch, commutes);
        }
        const head = this.durable.state.revision;
        await this.log.append(this.stream, batch, {
          expectedRevision: head < 0 ? "no_stream" : head,
          ...(snapshot && head === from ? { snapshot } : {}),
        });
      },
      {
        retryable: (err, attempt) =>
          isCkptError(err, ErrorCode.CONFLICT) && !lostRaces.has(err) &&
          this.log.supports.multiProcess && (commutes || attempt < 20),
        // The first retry goes at once; then a writer in a tight loop would win every race against
        // one that must read before it retries.
        backoff: REBASE_BACKOFF,
      },
    );
  }

  /**
   * After a lost race (mid-commit, so the local view waits for the commit: `catchUpAlone(false)`),
   * checks that `batch` still fits the durable state the winners' events led to.
   */
  private recheck(batch: CkptEvent[], commutes: boolean): void {
    const probe = cloneState(this.durable.state);
    let rev = probe.revision;
    try {
      for (const e of batch) apply(probe, e, ++rev);
    } catch (bad) {
      // Item-like events commute, so a failed re-check means the stage itself moved on (say,
      // completed). A lifecycle change that no longer fits lost a race: that is the caller's
      // CKPT_CONFLICT.
      if (commutes) throw bad;
      const lost = new CkptError(
        ErrorCode.CONFLICT,
        `Another process changed stage "${this.projected.stage}" first (it is now ${probe.status}); ${
          (bad as Error).message
        }`,
        {
          cause: bad,
        },
      );
      lostRaces.add(lost);
      throw lost;
    }
  }

  /**
   * Runs `fn` with no other commit or catch-up in flight: a catch-up that read the log while one of
   * our appends was landing would fold that batch in, and the commit would then fold it in again.
   */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.ioLock.then(fn, fn);
    this.ioLock = p.catch(() => undefined);
    return p;
  }

  /** Folds in events other writers appended since our durable head, telling listeners. */
  catchUp(): Promise<number> {
    return this.exclusive(() => this.catchUpAlone(true));
  }

  /**
   * `reproject`: rebuild the local view (durable + queued) now; false inside a commit, which does
   * it once the batch lands.
   */
  private async catchUpAlone(reproject: boolean): Promise<number> {
    const recorded: RecordedEvent[] = [];
    await foldLog(this.log, this.stream, this.durable, { collect: recorded });
    if (recorded.length > 0) {
      if (reproject) this.reproject();
      for (const l of this.listeners) l(recorded, this.durable.state);
    }
    return recorded.length;
  }

  /**
   * After other writers' events were folded in, the local view is the durable state plus what is
   * still queued; queued events that no longer fit (the stage moved on) are failed.
   */
  private reproject(): void {
    const view = cloneState(this.durable.state);
    let rev = view.revision;
    try {
      for (const e of this.queue) apply(view, e, ++rev);
      this.projected = view;
    } catch (err) {
      this.fail(err);
    }
  }

  /**
   * Events that were queued will never reach the log (the append failed, or they no longer fit a
   * stage another writer moved on): the writer turns `failed`, and stays so until `recover()`, so
   * no later flush, done or close can resolve as if they had been written.
   */
  private fail(err: unknown): void {
    if (this.phase.name === "closed") return;
    this.queue.length = 0;
    this.enqueued = this.committed;
    this.projected = cloneState(this.durable.state);
    const error = isCkptError(err) ? err : new CkptError(
      ErrorCode.IO,
      `Writing stage "${this.projected.stage}" to ${this.log.location} failed: ${
        String((err as Error)?.message ?? err)
      }`,
      { cause: err },
    );
    this.to({ name: "failed", error });
  }

  /**
   * Rejects the waiters of the batch that was refused (the queue behind it is empty) and stays
   * usable.
   */
  private refuse(err: CkptError): void {
    this.enqueued = this.committed;
    this.projected = cloneState(this.durable.state);
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(err);
    this.settle();
  }

  /**
   * Leaves the `failed` phase: reads the stage back from the log (what actually landed) and accepts
   * events again. `stage.begin()` calls it; a no-op in any other phase.
   */
  async recover(): Promise<void> {
    if (this.phase.name !== "failed") return;
    await this.exclusive(async () => {
      if (this.phase.name !== "failed") return;
      await this.reloadAlone();
      this.to(IDLE);
    });
  }

  /**
   * Runs `act` with none of this writer's appends in flight (events queued meanwhile wait), seeing
   * the durable state caught up with the log: how compaction, TTL deletion and `stage.delete()` act
   * on a stage without racing its writer. Returns what `act` returns; `act` says whether it deleted
   * the stream.
   */
  maintain<T>(
    act: (state: Readonly<StageState>, queued: number) => Promise<{ result: T; deleted: boolean }>,
  ): Promise<T> {
    return this.exclusive(async () => {
      if (this.log.supports.multiProcess) await this.catchUpAlone(true);
      const { result, deleted } = await act(this.durable.state, this.queue.length);
      if (deleted) {
        await this.reloadAlone();
        // Queued while the stream was being removed: decided on a stage that no longer exists.
        if (this.queue.length > 0) {
          this.fail(
            new CkptError(
              ErrorCode.CONFLICT,
              `Stage "${this.stream}" was deleted (compaction or delete) while these updates waited; nothing of them was written. Begin the stage again.`,
              {
                details: { stage: this.stream, deletedWhileQueued: true },
              },
            ),
          );
        }
      }
      return result;
    });
  }

  private settle(): void {
    let k = 0;
    while (k < this.waiters.length && this.waiters[k]!.seq <= this.committed) {
      this.waiters[k++]!.resolve();
    }
    if (k > 0) this.waiters.splice(0, k);
    if (this.roomAgain && this.roomWait) {
      this.roomWait.resolve();
      this.roomWait = undefined;
    }
  }

  /**
   * Writes what is queued, then refuses further events with CKPT_CLOSED. Rejects with the sticky
   * error when something queued never reached the log (closed all the same).
   */
  async close(): Promise<void> {
    if (this.phase.name === "closed") return;
    let sticky: unknown;
    await this.flush().catch((e: unknown) => (sticky = e));
    this.to({
      name: "closed",
      error: new CkptError(ErrorCode.CLOSED, `Stage "${this.projected.stage}" is closed.`),
    });
    if (sticky !== undefined) throw sticky;
  }

  /** Replaces the in-memory projection with what the log holds (the queue is left alone). */
  private async reloadAlone(): Promise<void> {
    const { projection, snapshotRevision } = await loadProjection(this.log, this.stream);
    this.durable = projection;
    this.lastSnapshotRevision = snapshotRevision;
    this.projected = cloneState(projection.state);
    let rev = this.projected.revision;
    try {
      for (const e of this.queue) apply(this.projected, e, ++rev);
    } catch (err) {
      this.fail(err);
    }
  }
}
