/**
 * The sidecar's one write path. Every append — its own store's and HTTP workers' raw ones — passes
 * here, is checked against the stage's true state (schema, expected revision, allowed transitions),
 * and is announced to live watchers. So nothing that would break a stage's replay reaches the log,
 * and the projections kept here are never stale: nothing else writes the log in this process.
 */
import { checkExpected } from "../adapters/expected.ts";
import { CkptError, ErrorCode, isCkptError, type Issue } from "../core/errors.ts";
import { checkStageName, CkptEvent } from "../core/events.ts";
import { invalid, issuesOf } from "../core/validate.ts";
import type {
  AppendOptions,
  EventLog,
  MaintenanceOptions,
  ReadOptions,
  RecordedEvent,
  Snapshot,
  Supports,
} from "../core/log.ts";
import { applyToProjection, type Projection } from "../core/projection.ts";
import { ALLOWED_FROM, checkTransition, nextStatus, type StageState } from "../core/state.ts";
import { loadProjection } from "../core/fold.ts";
import { checkTruncation } from "./truncate-check.ts";
import { keyedQueue } from "../core/keyed-queue.ts";

export type Notice =
  | { type: "append"; stream: string; events: RecordedEvent[]; state: Readonly<StageState> }
  | { type: "deleted"; stream: string };

export interface GuardedLog extends EventLog {
  readonly inner: EventLog;
  /**
   * State and history as of the last acknowledged append; undefined when the stream does not exist.
   */
  projection(stream: string): Promise<Readonly<Projection> | undefined>;
  /**
   * Calls `listener` after every acknowledged append to (or deletion of) `stream`, or of any stream
   * for `ALL_STREAMS` (the dashboard's stages page); the state is valid during the call only.
   */
  subscribe(stream: string, listener: (n: Notice) => void): () => void;
  /** Calls `observer` after every append to the inner log: seconds it took, events, success. */
  observe(observer: AppendObserver): () => void;
}

/** subscribe() to every stream ("*" is no stage name, so it cannot clash with one). */
export const ALL_STREAMS = "*";

export type AppendObserver = (seconds: number, events: number, ok: boolean) => void;

export interface GuardOptions {
  /** Most stage projections kept in memory (least recently used go first). Default 1000. */
  cacheSize?: number;
  /**
   * Refuse appends whose events are not allowed in the stage's status (default true), so no
   * client can write a history that no longer replays. Off, the log is the bare EventLog contract.
   */
  checkTransitions?: boolean;
}

/**
 * Wraps the sidecar's real log. It says `multiProcess: true` because, seen from the sidecar's own
 * Store, HTTP workers are other writers: its writers must expect conflicts, rebase and use leases.
 */
export function guardLog(inner: EventLog, options: GuardOptions = {}): GuardedLog {
  const cacheSize = options.cacheSize ?? 1000;
  const strict = options.checkTransitions ?? true;
  const cache = new Map<string, Projection>();
  const listeners = new Map<string, Set<(n: Notice) => void>>();
  const observers = new Set<AppendObserver>();
  const observe = (seconds: number, events: number, ok: boolean) => {
    for (const o of observers) o(seconds, events, ok);
  };
  const supports: Supports = { ...inner.supports, multiProcess: true };

  /**
   * One operation per stream at a time, so a check and the write it guards cannot interleave with
   * another.
   */
  const locked = keyedQueue();

  function remember(stream: string, p: Projection): Projection {
    cache.delete(stream);
    cache.set(stream, p);
    if (cache.size > cacheSize) cache.delete(cache.keys().next().value!);
    return p;
  }

  async function load(stream: string, fresh = false): Promise<Projection> {
    const hit = fresh ? undefined : cache.get(stream);
    if (hit) return remember(stream, hit);
    return remember(stream, (await loadProjection(inner, stream)).projection);
  }

  function notify(stream: string, n: Notice): void {
    for (const l of [...(listeners.get(stream) ?? []), ...(listeners.get(ALL_STREAMS) ?? [])]) {
      try {
        l(n);
      } catch {
        // A watcher that fails must not fail the writer that woke it.
      }
    }
  }

  function checkEvents(events: readonly unknown[]): CkptEvent[] {
    const out: CkptEvent[] = [];
    const issues: Issue[] = [];
    events.forEach((e, i) => {
      const r = CkptEvent.safeParse(e);
      if (r.success) out.push(r.data);
      else for (const is of issuesOf(r.error)) issues.push({ ...is, path: [i, ...is.path] });
    });
    if (issues.length > 0) {
      throw invalid(`Refused ${issues.length} problem(s) in the events`, issues);
    }
    return out;
  }

  function checkSnapshot(s: Snapshot, what: string): void {
    const ok = s && typeof s === "object" && Number.isSafeInteger(s.revision) && s.revision >= 0 &&
      Number.isSafeInteger(s.version) && s.state !== undefined;
    if (!ok) {
      throw new CkptError(
        ErrorCode.INVALID,
        `${what} needs an integer revision >= 0, an integer version and a state.`,
        { issues: [{ path: ["snapshot"], message: "malformed snapshot" }] },
      );
    }
  }

  /**
   * Refuses, before anything is written, a batch that would leave the stage unable to replay:
   * a stale expected revision (CKPT_CONFLICT) first, then any event not allowed in the status the
   * ones before it leave (CKPT_BAD_TRANSITION), and a snapshot that does not end at the new head.
   */
  async function checkAgainstState(
    stream: string,
    events: readonly CkptEvent[],
    o: AppendOptions,
  ): Promise<void> {
    let p = await load(stream);
    const head = () => (p.state.revision < 0 ? undefined : p.state.revision);
    try {
      checkExpected(stream, o.expectedRevision, head(), inner.location);
    } catch (err) {
      // Only a log shared beyond this process can move without us; read it again before refusing.
      if (!inner.supports.multiProcess) throw err;
      p = await load(stream, true);
      checkExpected(stream, o.expectedRevision, head(), inner.location);
    }
    let status = p.state.status;
    for (const e of events) {
      if (!ALLOWED_FROM[e.type].includes(status)) checkTransition({ ...p.state, status }, e);
      status = nextStatus(status, e);
    }
    const next = p.state.revision + events.length;
    if (o.snapshot && o.snapshot.revision !== next) {
      throw new CkptError(
        ErrorCode.INVALID,
        `The snapshot sent with an append must end at the new head (${next}), not at ${o.snapshot.revision}.`,
        {
          issues: [{ path: ["snapshot", "revision"], message: "must equal the new head" }],
        },
      );
    }
  }

  /** Folds an acknowledged append into the cached projection (if any) and tells watchers. */
  async function advance(
    stream: string,
    events: readonly CkptEvent[],
    head: number,
  ): Promise<void> {
    const from = head - events.length;
    let p = cache.get(stream);
    const recorded = events.map((event, i) => ({ revision: from + 1 + i, event }));
    if (p && p.state.revision === from) {
      try {
        for (const r of recorded) applyToProjection(p, r.event, r.revision);
      } catch {
        // Only reachable without transition checks: the stage no longer replays; reads will say so.
        cache.delete(stream);
        p = undefined;
      }
    } else {
      cache.delete(stream);
      p = undefined;
    }
    if (!listeners.has(stream) && !listeners.has(ALL_STREAMS)) return;
    p ??= await load(stream).catch(() => undefined);
    if (p) notify(stream, { type: "append", stream, events: recorded, state: p.state });
  }

  const guarded: GuardedLog = {
    inner,
    supports,
    location: inner.location,

    append(stream: string, raw: readonly CkptEvent[], o: AppendOptions) {
      checkStageName(stream);
      const events = checkEvents(raw);
      if (o.snapshot) checkSnapshot(o.snapshot, "The snapshot sent with an append");
      return locked(stream, async () => {
        if (strict) await checkAgainstState(stream, events, o);
        const atomic = inner.supports.atomicSnapshot;
        const started = performance.now();
        let result: { head: number };
        try {
          result = await inner.append(
            stream,
            events,
            atomic || !o.snapshot ? o : { expectedRevision: o.expectedRevision },
          );
          observe((performance.now() - started) / 1000, events.length, true);
        } catch (err) {
          observe((performance.now() - started) / 1000, events.length, false);
          if (!isCkptError(err, ErrorCode.CONFLICT)) cache.delete(stream); // it may or may not have landed: read it again next time
          throw err;
        }
        if (o.snapshot && !atomic) {
          await inner.saveSnapshot(stream, o.snapshot).catch(() => undefined);
        }
        if (events.length > 0) await advance(stream, events, result.head);
        return result;
      });
    },

    read(stream: string, o?: ReadOptions) {
      checkStageName(stream);
      return inner.read(stream, o);
    },

    ...(inner.readBatches
      ? {
        readBatches(stream: string, o?: { from?: number }) {
          checkStageName(stream);
          return inner.readBatches!(stream, o);
        },
      }
      : {}),
    ...(inner.sizeBytes ? { sizeBytes: () => inner.sizeBytes!() } : {}),

    streams(o?: { prefix?: string }) {
      return inner.streams(o);
    },

    info(stream: string) {
      checkStageName(stream);
      return inner.info(stream);
    },

    async saveSnapshot(stream: string, snapshot: Snapshot) {
      checkStageName(stream);
      checkSnapshot(snapshot, "A snapshot");
      await inner.saveSnapshot(stream, snapshot);
    },

    loadSnapshot(stream: string, which?: "latest" | "base") {
      checkStageName(stream);
      return inner.loadSnapshot(stream, which);
    },

    truncateBefore(stream: string, revision: number, base: Snapshot, o?: MaintenanceOptions) {
      checkStageName(stream);
      checkSnapshot(base, "The base snapshot");
      if (!Number.isSafeInteger(revision) || revision < 0) {
        throw new CkptError(
          ErrorCode.INVALID,
          `Cannot truncate before revision ${revision}: it must be an integer >= 0.`,
        );
      }
      // Compaction leaves state unchanged, but an import truncates a placeholder history to install
      // its base, so the cached projection is dropped and rebuilt from the base on next use.
      return locked(stream, async () => {
        // Without transition checks (the bare contract) events need not replay, so neither can a
        // base be checked.
        if (strict) await checkTruncation(inner, stream, revision, base);
        await inner.truncateBefore(stream, revision, base, o);
        cache.delete(stream);
      });
    },

    delete(stream: string, o?: MaintenanceOptions) {
      checkStageName(stream);
      return locked(stream, async () => {
        try {
          await inner.delete(stream, o);
        } finally {
          cache.delete(stream);
        }
        notify(stream, { type: "deleted", stream });
      });
    },

    async projection(stream: string) {
      checkStageName(stream);
      const hit = cache.get(stream);
      const p = hit ?? (await locked(stream, () => load(stream)));
      return p.state.revision < 0 ? undefined : p;
    },

    subscribe(stream: string, listener: (n: Notice) => void) {
      let set = listeners.get(stream);
      if (!set) listeners.set(stream, set = new Set());
      set.add(listener);
      return () => {
        set.delete(listener);
        if (set.size === 0 && listeners.get(stream) === set) listeners.delete(stream);
      };
    },

    observe(observer: AppendObserver) {
      observers.add(observer);
      return () => observers.delete(observer);
    },

    async close() {
      cache.clear();
      await inner.close();
    },
  };
  return guarded;
}

/**
 * Encodes the batch once before the log sees it: a value the log cannot encode (nested too deep for
 * the stack, say) is refused as CKPT_INVALID here, so it cannot fail halfway through a write and
 * move the head.
 */

/** True when `log` is the sidecar's guarded log. */
export function isGuardedLog(log: EventLog): log is GuardedLog {
  return typeof (log as Partial<GuardedLog>).projection === "function" &&
    typeof (log as Partial<GuardedLog>).subscribe === "function";
}
