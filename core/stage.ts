/**
 * A stage: one named step of a pipeline with its own log. Begins runs (detecting crashes and
 * changed inputs), and reads state, history, replays and live events.
 */
import {
  type Checkpoint,
  type CheckpointInfo,
  checkpointsLimit,
  infoOf,
  readCheckpoints,
} from "./checkpoints.ts";
import { type BeginCall, decide, decideBegin } from "./decide.ts";
import { CkptError, ErrorCode, isCkptError } from "./errors.ts";
import { configDigest, sha256 } from "./fingerprint.ts";
import { cloneHistory, type History } from "./history.ts";
import { baseProjection } from "./fold.ts";
import { cloneProjection, fromSnapshot } from "./projection.ts";
import { indices, size } from "./resume-set.ts";
import { type ResumeInfo, Run } from "./run.ts";
import { cloneState, type StageState } from "./state.ts";
import type { StoreContext } from "./store-context.ts";
import { type MaintenanceOptions, readForward } from "./log.ts";
import {
  BeginOptionsSchema,
  DeleteOptionsSchema,
  ReplayOptionsSchema,
  ResetOptionsSchema,
  WatchOptionsSchema,
} from "./options.ts";
import { retry } from "./retry.ts";
import { parseArg } from "./validate.ts";
import { type ReplayEntry, replayIterator } from "./replay.ts";

export type { ReplayEntry } from "./replay.ts";

/** Where a stage's input comes from: a file path, bytes, or a SHA-256 computed elsewhere. */
export type InputSource = string | Uint8Array | { file: string } | { bytes: Uint8Array } | {
  sha256: string;
};

export interface BeginOptions {
  /** How many items the stage has, when known. */
  total?: number | undefined;
  /** The input the stage works through; a different input on resume is CKPT_INPUT_CHANGED. */
  input?: InputSource | undefined;
  /** Settings that change the output; a different config on resume is CKPT_CONFIG_CHANGED. */
  config?: unknown | undefined;
  /** What to do when input or config changed: refuse (default) or reset and start over. */
  onChange?: "error" | "restart" | undefined;
  /** On resume, confirms a done item's output is still valid; items it rejects are redone. */
  verify?: ((index: number) => boolean | Promise<boolean>) | undefined;
  /** For logs shared by several processes: how long this run's claim lasts without updates. */
  leaseMs?: number | undefined;
  /**
   * Join the stage's live run instead of refusing with CKPT_LOCKED: for several worker processes
   * sharing one stage through a shared log (sidecar, EventStoreDB). Starts a run if none is live.
   */
  join?: boolean | undefined;
}

export interface ReplayOptions {
  /** First revision to yield (inclusive). */
  from?: number | undefined;
  /** Last revision to yield (inclusive). */
  to?: number | undefined;
  /** Only events at or after this time (ms since epoch). */
  since?: number | undefined;
  /** Only events at or before this time (ms since epoch). */
  until?: number | undefined;
}

/** begin()'s conflicts that a fresh decision can resolve. */
const decideAgain = new WeakSet<object>();

export class Stage {
  constructor(
    private readonly ctx: StoreContext,
    readonly name: string,
  ) {}

  /**
   * Starts (or resumes) a run. A stage left running by a process that is gone gets a
   * crash-detected event first; a changed input or config is refused unless `onChange: "restart"`.
   * @example const run = await store.stage("fetch").begin({ total: urls.length, input: "urls.txt" })
   */
  async begin(options: BeginOptions = {}): Promise<Run> {
    this.ctx.checkOpen();
    parseArg(BeginOptionsSchema, options, "begin()");
    // A begin that lost its race is decided again on the stage as it now is (see start()); at most
    // 6 tries.
    return retry(() => this.start(options), {
      attempts: 6,
      backoff: false,
      retryable: (err) => decideAgain.has(err as object),
    });
  }

  private async start(options: BeginOptions): Promise<Run> {
    const writer = await this.ctx.writer(this.name);
    const active = this.ctx.activeRun(this.name);
    if (active) {
      throw new CkptError(
        ErrorCode.LOCKED,
        `Stage "${this.name}" already has an active run (${active.id}) in this process; complete, pause or close it first.`,
        {
          details: { stage: this.name, runId: active.id },
        },
      );
    }
    // Beginning again is how a writer leaves its sticky `failed` phase: it reads back what really
    // landed.
    await writer.recover();
    const multi = this.ctx.log.supports.multiProcess;
    if (multi) await writer.catchUp();
    const [input, config] = await Promise.all([
      this.fingerprint(options.input),
      options.config === undefined ? undefined : configDigest(options.config),
    ]);
    const st = writer.state;
    const runId = crypto.randomUUID();
    const d = decideBegin(
      st,
      {
        ...pickBegin(options),
        ...(input !== undefined ? { input } : {}),
        ...(config !== undefined ? { config } : {}),
        multiProcess: multi,
        abandoned: st.run !== undefined && st.run !== null && this.ctx.abandoned.has(st.run.id),
        runId,
        owner: { host: this.ctx.platform.hostname(), pid: this.ctx.platform.pid(), runId },
      },
      this.ctx.clock.now(),
    );
    if (d.kind === "join") return this.joinRun(writer, d.runId, d.from, d.leaseMs);
    const { events, from, crashed, restarted, leaseMs } = d;
    try {
      await writer.waitFor(writer.enqueue(events));
    } catch (err) {
      if (!isCkptError(err, ErrorCode.CONFLICT)) throw err;
      const raced = new CkptError(
        ErrorCode.CONFLICT,
        `Another process began or changed stage "${this.name}" at the same moment; try again.`,
        { cause: err },
      );
      // Decided on a stage that compaction or delete removed while the events waited (decide again
      // on the empty stage), or another worker started the run first (join it): begin() decides
      // again.
      if (err.details?.deletedWhileQueued === true || options.join) decideAgain.add(raced);
      throw raced;
    }
    const reopened = options.verify ? await this.reopenInvalid(writer, options.verify) : 0;
    const done = size(writer.state.resume);
    const info: ResumeInfo = {
      from,
      crashed,
      skipped: done,
      reopened,
      restarted,
      message: resumeMessage(this.name, from, crashed, restarted, done, reopened),
    };
    return this.startRun(writer, runId, info, leaseMs ?? null);
  }

  /** The current state (the resume point), including updates not yet durable. */
  async state(): Promise<StageState> {
    this.ctx.checkOpen();
    const w = await this.ctx.writer(this.name);
    if (this.ctx.log.supports.multiProcess) await w.catchUp();
    return cloneState(w.state);
  }

  /** Every run and status change. */
  async history(): Promise<History> {
    this.ctx.checkOpen();
    const w = await this.ctx.writer(this.name);
    await w.flush();
    if (this.ctx.log.supports.multiProcess) await w.catchUp();
    const h = cloneHistory(w.durableProjection.history);
    // Every event before the first stored one was folded into the base snapshot by compaction.
    h.compactedEvents = (await this.ctx.log.info(this.name))?.first ?? 0;
    return h;
  }

  private joinRun(
    writer: Awaited<ReturnType<StoreContext["writer"]>>,
    runId: string,
    from: StageState["status"],
    leaseMs: number,
  ): Run {
    const done = size(writer.state.resume);
    const info: ResumeInfo = {
      from,
      crashed: false,
      skipped: done,
      reopened: 0,
      restarted: false,
      message: `Stage "${this.name}": joining live run ${runId}; ${
        done.toLocaleString("en-US")
      } items done will be skipped.`,
    };
    return this.startRun(writer, runId, info, leaseMs);
  }

  /** A run of this stage, registered with the store as active until it ends. */
  private startRun(
    writer: Awaited<ReturnType<StoreContext["writer"]>>,
    runId: string,
    info: ResumeInfo,
    leaseMs: number | null,
  ): Run {
    const run = new Run(
      writer,
      runId,
      info,
      this.ctx.limits,
      (r) => this.ctx.endRun(this.name, r),
      leaseMs,
      this.ctx.clock,
    );
    this.ctx.startRun(this.name, run);
    return run;
  }

  /**
   * The newest state checkpoint since the stage's last reset, or undefined when there is none.
   * @example const cp = await stage.latest(); let step = cp ? cp.step! + 1 : 0
   */
  async latest<T = unknown>(): Promise<Checkpoint<T> | undefined> {
    return (await checkpointsOf(this.ctx, this.name, 1))[0] as Checkpoint<T> | undefined;
  }

  /** Saved checkpoints without their state, newest first (default limit 100). */
  async checkpoints(options: { limit?: number } = {}): Promise<CheckpointInfo[]> {
    return (await checkpointsOf(this.ctx, this.name, checkpointsLimit(options))).map(infoOf);
  }

  /** Does the stage have any events? */
  async exists(): Promise<boolean> {
    this.ctx.checkOpen();
    return (await this.ctx.log.info(this.name)) !== undefined;
  }

  /**
   * The history event by event with the state after each: from the base snapshot when the stage
   * was compacted, or from the latest snapshot when `from` is past it.
   */
  replay(options: ReplayOptions = {}): AsyncIterableIterator<ReplayEntry> {
    this.ctx.checkOpen();
    parseArg(ReplayOptionsSchema, options, "replay()");
    const from = options.from ?? 0;
    return replayIterator(async () => {
      await (await this.ctx.writer(this.name)).flush();
      const log = this.ctx.log;
      const info = await log.info(this.name);
      if (!info) return undefined;
      const latest = from > info.first ? await log.loadSnapshot(this.name) : undefined;
      const usable = latest && latest.revision < from ? fromSnapshot(this.name, latest) : undefined;
      const p = usable ? cloneProjection(usable) : await baseProjection(log, info);
      return { p, pages: readForward(log, this.name, p.state.revision + 1) };
    }, { from, ...pickBounds(options) });
  }

  /**
   * New events as they are written, with the state after each, until `signal` aborts.
   * @example for await (const { event, state } of stage.watch({ signal })) console.log(state.counters)
   */
  async *watch(
    options: { signal?: AbortSignal; pollMs?: number } = {},
  ): AsyncGenerator<ReplayEntry> {
    this.ctx.checkOpen();
    parseArg(WatchOptionsSchema, options, "watch()");
    const writer = await this.ctx.writer(this.name);
    const buffered: ReplayEntry[] = [];
    let wake: (() => void) | undefined;
    const off = writer.onCommit((events, state) => {
      const snapshot = cloneState(state);
      for (const { revision, event } of events) buffered.push({ revision, event, state: snapshot });
      wake?.();
    });
    const onAbort = () => wake?.();
    options.signal?.addEventListener("abort", onAbort);
    // Other processes' writes (shared logs) only show up by reading: on the log's signal when it
    // has one, else by polling.
    const catchUp = () => void writer.catchUp().catch(() => undefined);
    const unsubscribe = this.ctx.log.supports.multiProcess && this.ctx.log.listen
      ? await this.ctx.log.listen(this.name, catchUp)
      : undefined;
    const poll = this.ctx.log.supports.multiProcess && !unsubscribe
      ? this.ctx.clock.setInterval(catchUp, options.pollMs ?? 500)
      : undefined;
    try {
      while (!options.signal?.aborted && !this.ctx.closed) {
        if (buffered.length === 0) {
          await new Promise<void>((r) => (wake = r));
          wake = undefined;
          continue;
        }
        yield buffered.shift()!;
      }
    } finally {
      off();
      options.signal?.removeEventListener("abort", onAbort);
      if (poll !== undefined) this.ctx.clock.clear(poll);
      await unsubscribe?.();
    }
  }

  /**
   * Starts the stage over: state and resume point return to empty; the history keeps what happened.
   */
  async reset(options: { reason?: string } = {}): Promise<void> {
    this.ctx.checkOpen();
    parseArg(ResetOptionsSchema, options, "reset()");
    const active = this.ctx.activeRun(this.name);
    if (active) {
      throw new CkptError(
        ErrorCode.LOCKED,
        `Stage "${this.name}" has an active run (${active.id}) in this process; end it before resetting.`,
      );
    }
    const writer = await this.ctx.writer(this.name);
    await writer.waitFor(
      writer.enqueue(
        decide(
          writer.state,
          options.reason ? { call: "reset", reason: options.reason } : { call: "reset" },
          this.ctx.clock.now(),
        ),
      ),
    );
  }

  /**
   * Removes the stage and its whole history, serialised with this process's writes to it. With
   * `expectedRevision`, a stage that moved past that revision is CKPT_CONFLICT and nothing is
   * removed.
   */
  async delete(options: MaintenanceOptions = {}): Promise<void> {
    this.ctx.checkOpen();
    const expectedRevision = parseArg(DeleteOptionsSchema, options, "delete()").expectedRevision ??
      "any";
    const locked = () => {
      const active = this.ctx.activeRun(this.name);
      if (active) {
        throw new CkptError(
          ErrorCode.LOCKED,
          `Stage "${this.name}" has an active run (${active.id}) in this process; end it before deleting.`,
        );
      }
    };
    locked();
    // A stage whose state cannot be rebuilt has no writer to wait for, and deleting it is how a
    // user gets rid of it.
    const writer = await this.ctx.writer(this.name).catch((e: unknown) => {
      if (isCkptError(e, ErrorCode.CORRUPT)) return undefined;
      throw e;
    });
    if (!writer) return this.ctx.log.delete(this.name, { expectedRevision });
    await writer.maintain(async () => {
      locked(); // a begin() may have started one while we waited for the writer
      await this.ctx.log.delete(this.name, { expectedRevision });
      return { result: undefined, deleted: true };
    });
  }

  private async fingerprint(input: InputSource | undefined): Promise<string | undefined> {
    if (input === undefined) return undefined;
    if (typeof input === "string") return this.ctx.platform.sha256File(input);
    if (input instanceof Uint8Array) return sha256(input);
    if ("file" in input) return this.ctx.platform.sha256File(input.file);
    if ("bytes" in input) return sha256(input.bytes);
    return input.sha256.toLowerCase();
  }

  private async reopenInvalid(
    writer: Awaited<ReturnType<StoreContext["writer"]>>,
    verify: (i: number) => boolean | Promise<boolean>,
  ): Promise<number> {
    const bad: number[] = [];
    const check = async (i: number) => {
      if (!(await verify(i))) bad.push(i);
    };
    let inFlight: Promise<void>[] = [];
    for (const i of indices(cloneState(writer.state).resume)) {
      inFlight.push(check(i));
      if (inFlight.length >= 64) await Promise.all(inFlight.splice(0));
    }
    await Promise.all(inFlight);
    inFlight = [];
    if (bad.length === 0) return 0;
    bad.sort((a, b) => a - b);
    await writer.waitFor(
      writer.enqueue(
        decide(
          writer.state,
          { call: "reopen", indices: bad, reason: "verify check failed" },
          this.ctx.clock.now(),
        ),
      ),
    );
    return bad.length;
  }
}

/** The newest checkpoints once everything this process wrote is in the log. */
async function checkpointsOf(
  ctx: StoreContext,
  name: string,
  limit: number,
): Promise<Checkpoint[]> {
  ctx.checkOpen();
  await (await ctx.writer(name)).flush();
  return readCheckpoints(ctx.log, name, limit);
}

function resumeMessage(
  stage: string,
  from: string,
  crashed: boolean,
  restarted: boolean,
  done: number,
  reopened: number,
): string {
  const n = (x: number) => x.toLocaleString("en-US");
  if (restarted) return `Stage "${stage}": input or config changed; starting over.`;
  if (from === "initialized") return `Stage "${stage}": starting fresh.`;
  const why = crashed ? "after a crash" : `from ${from}`;
  return `Stage "${stage}": resuming ${why}; ${n(done)} items done will be skipped` +
    (reopened ? `, ${n(reopened)} reopened to redo.` : ".");
}

function pickBounds(o: ReplayOptions): { to?: number; since?: number; until?: number } {
  const b: { to?: number; since?: number; until?: number } = {};
  if (o.to !== undefined) b.to = o.to;
  if (o.since !== undefined) b.since = o.since;
  if (o.until !== undefined) b.until = o.until;
  return b;
}

function pickBegin(o: BeginOptions): Pick<BeginCall, "total" | "onChange" | "join" | "leaseMs"> {
  const b: Pick<BeginCall, "total" | "onChange" | "join" | "leaseMs"> = {};
  if (o.total !== undefined) b.total = o.total;
  if (o.onChange !== undefined) b.onChange = o.onChange;
  if (o.join !== undefined) b.join = o.join;
  if (o.leaseMs !== undefined) b.leaseMs = o.leaseMs;
  return b;
}
