/**
 * Runs the sidecar holds for HTTP clients that are not ckpt libraries (other languages, scripts).
 * The sidecar's Run renews its own lease, so it also watches its clients: a run nobody has
 * touched for its lease is released (not paused: its client is gone, which is a crash), and once
 * the lease runs out the next begin() records the crash and resumes.
 */
import { CkptError, ErrorCode } from "../core/errors.ts";
import type { CkptEvent } from "../core/events.ts";
import { size } from "../core/resume-set.ts";
import type { ResumeInfo, Run } from "../core/run.ts";
import { ALLOWED_FROM, checkTransition, nextStatus } from "../core/state.ts";
import type { BeginOptions } from "../core/stage.ts";
import type { Store } from "../core/store.ts";
import { HttpCode, HttpError } from "./errors.ts";
import type { GuardedLog } from "./guarded-log.ts";
import type { Update } from "../protocol/stages.ts";
import { type Clock, systemClock } from "../core/clock.ts";
import { keyedQueue } from "../core/keyed-queue.ts";
import { setImmediate } from "node:timers";

export interface HeldRun {
  readonly run: Run;
  readonly stage: string;
  readonly leaseMs: number;
  lastSeen: number;
}

export const DEFAULT_LEASE_MS = 30_000;
/**
 * Runs released for silence remembered (newest kept), so their clients hear CKPT_LEASE_LOST rather
 * than 404.
 */
const LOST_KEPT = 1000;
/** Longest a request waits for others to join its group commit (see `group`). */
const GROUP_WAIT_MS = 2;

/** Requests gathering for one group commit: `arrivals` joined so far, `seen` at the last look. */
interface Group {
  readonly ready: Promise<void>;
  readonly since: number;
  arrivals: number;
  seen: number;
}

const EVENT_OF: Readonly<Record<Update["type"], CkptEvent["type"]>> = {
  item: "item",
  progress: "progress",
  unit: "unit",
  error: "error",
  metadata: "metadata",
  pause: "paused",
  resume: "resumed",
  complete: "completed",
  fail: "failed",
  checkpoint: "checkpoint",
};

export class RunRegistry {
  private readonly byStage = new Map<string, HeldRun>();
  private readonly lost = new Map<string, { stage: string; leaseMs: number }>();
  private readonly stageQueue = keyedQueue();
  /** Per run: requests recorded and not yet durable (their group commit is in flight or queued). */
  private readonly unsettled = new WeakMap<HeldRun, number>();
  private readonly groups = new WeakMap<HeldRun, Group>();
  private readonly timer: unknown;

  constructor(
    private readonly store: Store,
    private readonly log: GuardedLog,
    reapEveryMs = 1000,
    private readonly clock: Clock = systemClock,
  ) {
    this.timer = clock.setInterval(() => void this.reap(), reapEveryMs);
    (this.timer as { unref?: () => void }).unref?.();
  }

  get size(): number {
    return this.byStage.size;
  }

  /** Runs `fn` with no other begin, reset or delete of `stage` in flight. */
  withStage<T>(stage: string, fn: () => Promise<T>): Promise<T> {
    return this.stageQueue(stage, fn);
  }

  /** Begins (or, with `join`, shares) the stage's run. */
  begin(
    stage: string,
    options: Omit<BeginOptions, "verify">,
  ): Promise<{ held: HeldRun; joined: boolean; resumed: ResumeInfo }> {
    return this.withStage(stage, async () => {
      const silent = this.byStage.get(stage);
      if (silent && !silent.run.ended && this.clock.now() - silent.lastSeen > silent.leaseMs) {
        await this.expire(silent);
      }
      const live = this.live(stage);
      if (live) {
        if (!options.join) {
          throw new CkptError(
            ErrorCode.LOCKED,
            `Stage "${stage}" has a live run (${live.run.id}) held by this sidecar for another client; pass "join": true to share it, or wait until it is released or silent for ${live.leaseMs} ms.`,
            { details: { stage, runId: live.run.id } },
          );
        }
        live.lastSeen = this.clock.now();
        // Told where the stage stands now, not what the run's first client was told when it began.
        const done = size(live.run.state.resume);
        const resumed: ResumeInfo = {
          from: live.run.state.status,
          crashed: false,
          skipped: done,
          reopened: 0,
          restarted: false,
          message: `Stage "${stage}": joining live run ${live.run.id}; ${
            done.toLocaleString("en-US")
          } items done will be skipped.`,
        };
        return { held: live, joined: true, resumed };
      }
      // Copied out now: the projection is live and the begin below changes it.
      const before = (await this.log.projection(stage))?.state;
      const liveId = before?.status === "running" ? before.run?.id : undefined;
      const liveLease = before?.run?.leaseMs ?? undefined;
      const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
      const run = await this.store.stage(stage).begin({ ...options, leaseMs });
      // The client's own requests renew the lease: a timer here would keep a dead client's claim
      // alive until the reaper noticed, doubling the time before another client may take the stage
      // over.
      run.stopHeartbeat();
      const joined = liveId !== undefined && liveId === run.id;
      const held: HeldRun = {
        run,
        stage,
        leaseMs: joined ? liveLease ?? leaseMs : leaseMs,
        lastSeen: this.clock.now(),
      };
      this.byStage.set(stage, held);
      return { held, joined, resumed: run.resumed };
    });
  }

  /**
   * The live run `runId` of `stage`, its lease renewed; CKPT_NOT_FOUND when it is not held here.
   */
  get(stage: string, runId: string): HeldRun {
    const held = this.live(stage);
    if (!held || held.run.id !== runId) {
      const lost = this.lost.get(runId);
      if (lost && lost.stage === stage) {
        throw new HttpError(
          HttpCode.LEASE_LOST,
          `Run ${runId} of stage "${stage}" lost its lease: nothing was heard from its client for ${lost.leaseMs} ms, so it was released and another client may own the stage now. Nothing from this request was recorded; begin again (it resumes from what is durable).`,
          { details: { stage, runId, leaseMs: lost.leaseMs } },
        );
      }
      throw new CkptError(
        ErrorCode.NOT_FOUND,
        `Run ${runId} of stage "${stage}" is not live on this sidecar: it ended, was released, went silent past its lease, or the sidecar restarted. Begin again (with "join": true to share a live run).`,
        { details: { stage, runId } },
      );
    }
    held.lastSeen = this.clock.now();
    return held;
  }

  /**
   * Applies `updates` in order, all or nothing as far as checks go: the whole batch is checked
   * against the run's status and recorded in the same synchronous step (nothing else can run in
   * between), so concurrent requests for one run share group commits. Resolves once all are
   * durable.
   */
  async update(
    held: HeldRun,
    updates: readonly Update[],
    expectedRevision?: number,
  ): Promise<void> {
    if (updates.length > 0 && !this.unsettled.get(held)) await this.group(held);
    const run = held.run;
    if (run.ended) throw this.notLive(held);
    if (expectedRevision !== undefined && run.state.revision !== expectedRevision) {
      throw new CkptError(
        ErrorCode.CONFLICT,
        `Stage "${held.stage}" is at revision ${run.state.revision}, but If-Match expected ${expectedRevision}.`,
        {
          details: { stream: held.stage, expected: expectedRevision, actual: run.state.revision },
        },
      );
    }
    let status = run.state.status;
    for (const u of updates) {
      const e = { type: EVENT_OF[u.type] } as CkptEvent;
      if (!ALLOWED_FROM[e.type].includes(status)) checkTransition({ ...run.state, status }, e);
      status = nextStatus(status, e);
    }
    // Called in order without awaiting: each records its event before returning its promise.
    this.unsettled.set(held, (this.unsettled.get(held) ?? 0) + 1);
    const settled = await Promise.allSettled(
      updates.length > 1 && updates.every(isBareItem)
        ? recordItems(run, updates)
        : updates.map((u) => record(run, u)),
    );
    this.unsettled.set(held, this.unsettled.get(held)! - 1);
    held.lastSeen = this.clock.now();
    if (run.ended) this.drop(held);
    const failed = settled.find((s) => s.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  /**
   * Holds a request for a run with nothing in flight until the requests arriving with it have
   * joined: event-loop turns until one brings nobody new, at most GROUP_WAIT_MS. Otherwise the
   * first request of a burst would start a commit alone, and the rest would wait for its fsync and
   * then their own. With a commit in flight no wait is needed: what arrives queues behind it
   * anyway. Everyone wakes in arrival order and checks and records in that order, as without the
   * wait.
   */
  private group(held: HeldRun): Promise<void> {
    const joined = this.groups.get(held);
    if (joined) return joined.arrivals++, joined.ready;
    let open!: () => void;
    const g: Group = {
      ready: new Promise<void>((r) => (open = r)),
      since: performance.now(),
      arrivals: 1,
      seen: 1,
    };
    this.groups.set(held, g);
    const look = () => {
      if (g.arrivals === g.seen || performance.now() - g.since >= GROUP_WAIT_MS) {
        this.groups.delete(held);
        return open();
      }
      g.seen = g.arrivals;
      setImmediate(look);
    };
    setImmediate(look);
    return g.ready;
  }

  /** Writes what is pending and lets go of the run without changing the stage's status. */
  async release(held: HeldRun): Promise<void> {
    this.drop(held);
    await held.run.close();
  }

  /** Releases runs whose clients have been silent for longer than their lease. */
  async reap(now = this.clock.now()): Promise<number> {
    let n = 0;
    for (const held of [...this.byStage.values()]) {
      if (held.run.ended) this.drop(held);
      else if (now - held.lastSeen > held.leaseMs) {
        n++;
        await this.expire(held);
      }
    }
    return n;
  }

  /** Stops the reaper; the runs still held are left for the store's shutdown() to pause. */
  stop(): void {
    this.clock.clear(this.timer);
  }

  /**
   * The stage's held run; one silent past its lease is released here, not only by the next reap.
   */
  private live(stage: string): HeldRun | undefined {
    const held = this.byStage.get(stage);
    if (held?.run.ended) {
      this.drop(held);
      return undefined;
    }
    if (held && this.clock.now() - held.lastSeen > held.leaseMs) {
      void this.expire(held);
      return undefined;
    }
    return held;
  }

  /**
   * Releases a run whose client went silent, remembering it so that client hears CKPT_LEASE_LOST.
   */
  private async expire(held: HeldRun): Promise<void> {
    this.lost.set(held.run.id, { stage: held.stage, leaseMs: held.leaseMs });
    if (this.lost.size > LOST_KEPT) this.lost.delete(this.lost.keys().next().value!);
    await this.release(held).catch(() => undefined);
  }

  private drop(held: HeldRun): void {
    if (this.byStage.get(held.stage) === held) this.byStage.delete(held.stage);
  }

  private notLive(held: HeldRun): CkptError {
    return new CkptError(
      ErrorCode.NOT_FOUND,
      `Run ${held.run.id} of stage "${held.stage}" has ended.`,
      { details: { stage: held.stage, runId: held.run.id } },
    );
  }
}

/** An item update with nothing but its index: the shape a worker sends for every item. */
const isBareItem = (u: Update): boolean =>
  u.type === "item" && u.ok === undefined && u.skipped === undefined && u.item === undefined &&
  u.batch === undefined && u.cost === undefined && u.error === undefined;

/**
 * Many bare items, recorded as `record` would record them (in order, each refusal its own, the
 * others still recorded) but waited for together: `mark()` queues an item without a promise of
 * its own. A promise and a settled result per update held 3/4 of the sidecar's memory under
 * concurrent 20,000-update requests. Returns what the request waits for, its first refusal first:
 * - the items queued at once: a flush taken right after them, before anything else can queue,
 *   waits for exactly these (the writer commits in order);
 * - each item that had to wait for room (too far out of order), queued once its wait ends, and a
 *   flush after those (which may also wait for other requests' events queued meanwhile: rare);
 * - the last item's `done()`.
 * Over the queue's high-water mark `mark()` also hands out the writer's one shared wait for the
 * queue to drain to half: the answer waits for it too (the back-pressure `mark()` asks for, passed
 * on to the client), but never fails by it. A halted run (shutting down) queues nothing and the
 * last `done()` never resolves: nothing is answered as recorded.
 */
function recordItems(run: Run, updates: readonly Update[]): Promise<void>[] {
  const roomWaits: Promise<void>[] = [];
  let drained: Promise<void> | undefined;
  const last = updates.length - 1;
  for (let k = 0; k < last; k++) {
    const index = (updates[k] as { index: number }).index;
    try {
      const wait = run.mark(index);
      if (!wait) continue;
      // Queued already (the wait is back-pressure), or queued once there is room.
      if (run.isDone(index)) drained ??= wait.catch(() => undefined);
      else roomWaits.push(wait);
    } catch (err) {
      roomWaits.push(Promise.reject(err)); // as done() would refuse it: the others still go in
    }
  }
  const queued = run.flush();
  const done = run.done((updates[last] as { index: number }).index);
  const waited = roomWaits.length === 0
    ? []
    : [Promise.allSettled(roomWaits).then(() => run.flush())];
  return [queued, ...roomWaits, ...waited, done, ...(drained ? [drained] : [])];
}

function record(run: Run, u: Update): Promise<void> {
  switch (u.type) {
    case "item":
      if (isBareItem(u)) return run.done(u.index); // no options to gather
      return run.done(
        u.index,
        strip({
          ok: u.ok,
          skipped: u.skipped,
          item: u.item,
          batch: u.batch,
          cost: u.cost,
          error: u.error,
        }),
      );
    case "progress":
      return run.progress(
        strip({
          total: u.total,
          ok: u.ok,
          failed: u.failed,
          skipped: u.skipped,
          cost: u.cost,
          message: u.message,
        }),
      );
    case "unit": {
      const unit = run.unit(u.key);
      if (u.status === "running") return unit.page(u.page!, strip({ records: u.records }));
      if (u.status === "complete") return unit.complete(strip({ records: u.records }));
      return unit.fail(u.error ?? "unit failed", strip({ retryable: u.retryable }));
    }
    case "error":
      return run.error(u.message, strip({ retryable: u.retryable, index: u.index, item: u.item }));
    case "metadata":
      return run.metadata(u.metadata as Record<string, unknown>);
    case "pause":
      return run.pause(u.reason);
    case "resume":
      return run.resume();
    case "complete":
      return run.complete(u.metadata as Record<string, unknown> | undefined);
    case "fail":
      return run.fail(u.message, strip({ retryable: u.retryable }));
    case "checkpoint":
      return run.checkpoint(
        u.state,
        strip({ step: u.step, metadata: u.metadata as Record<string, unknown> | undefined }),
      );
  }
}

/** Drops undefined keys: core's options treat a present-but-undefined key as set. */
function strip<T extends object>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as { [K in keyof T]?: Exclude<T[K], undefined> };
}
