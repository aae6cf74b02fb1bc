/**
 * The EventLog contract: the few dumb primitives every adapter (memory, LevelDB, EventStoreDB, …)
 * implements. Core validates and encodes once; adapters only store, in order, atomically.
 */
import type { CkptEvent } from "./events.ts";

/** 0-based position of an event in its stream. Revisions never change and are never reused. */
export type Revision = number;

/**
 * What the writer believes the stream's head is: the revision of its last event,
 * `"no_stream"` (nothing was ever appended, or it was deleted), or `"any"` (no check).
 */
export type ExpectedRevision = Revision | "no_stream" | "any";

export interface RecordedEvent {
  revision: Revision;
  event: CkptEvent;
}

/**
 * Projected state as of `revision` (the last event it covers), produced by reducer `version`.
 * A snapshot never runs ahead of the events it covers.
 */
export interface Snapshot {
  revision: Revision;
  version: number;
  state: unknown;
}

export interface StreamInfo {
  stream: string;
  /** Revision of the last event. */
  head: Revision;
  /** Revision of the first event still stored (greater than 0 after truncation). */
  first: Revision;
  /** Wall-clock ms of the last append. */
  updatedAt: number;
}

export interface AppendOptions {
  expectedRevision: ExpectedRevision;
  /**
   * Written in the same atomic write as the events, when the adapter can (see
   * `supports.atomicSnapshot`).
   */
  snapshot?: Snapshot;
}

/** Guards a truncate or delete against a stale read: the head the decision was made on. */
export interface MaintenanceOptions {
  /** Default "any" (no check). */
  expectedRevision?: ExpectedRevision;
}

export interface ReadOptions {
  /** First revision to read (inclusive). Forward default 0; backward default head. */
  from?: Revision | undefined;
  direction?: "forward" | "backward" | undefined;
  limit?: number | undefined;
}

/** What an adapter can do; tests and core read this instead of asking for an adapter by name. */
export interface Supports {
  /** Acknowledged appends survive a process crash. */
  durable: boolean;
  /**
   * Several processes may write the same log at once (so core must expect conflicts and use
   * leases).
   */
  multiProcess: boolean;
  /** Events and a snapshot can be written in one atomic call. */
  atomicSnapshot: boolean;
  /**
   * `truncateBefore` frees space right away (LevelDB, memory) rather than after a server-side
   * scavenge.
   */
  reclaimsSpace: boolean;
}

export interface EventLog {
  readonly supports: Supports;
  /** Human-readable location (folder, connection string without credentials) for messages. */
  readonly location: string;

  /**
   * Appends `events` atomically after checking `expectedRevision`.
   * Resolves with the new head once the write is as durable as the adapter promises.
   * A mismatch rejects with CKPT_CONFLICT and writes nothing.
   */
  append(
    stream: string,
    events: readonly CkptEvent[],
    options: AppendOptions,
  ): Promise<{ head: Revision }>;

  /** Events in order; a stream that does not exist yields nothing. */
  read(stream: string, options?: ReadOptions): AsyncIterable<RecordedEvent>;

  /**
   * Optional, for speed: the same events as `read` (forward only), a page at a time, so hot
   * replays pay one async step per page instead of per event. Core falls back to `read`.
   */
  readBatches?(stream: string, options?: { from?: Revision }): AsyncIterable<RecordedEvent[]>;

  /** Streams that exist (were appended to and not deleted), sorted by name. */
  streams(options?: { prefix?: string }): Promise<StreamInfo[]>;

  /** Head information for one stream, or undefined when it does not exist. */
  info(stream: string): Promise<StreamInfo | undefined>;

  /** Replaces the stream's latest snapshot (ignored when older than the one stored). */
  saveSnapshot(stream: string, snapshot: Snapshot): Promise<void>;
  /**
   * `"latest"` (default): the newest snapshot, to resume from. `"base"`: the state just before the
   * first stored event, written by `truncateBefore`, to replay from.
   */
  loadSnapshot(stream: string, which?: "latest" | "base"): Promise<Snapshot | undefined>;

  /**
   * Removes events before `revision`. `base` (the state as of `revision - 1`) is stored as the
   * stream's base snapshot first, in the same atomic step where the adapter can, and also as its
   * latest snapshot when that one is older — so state is never lost.
   * With `expectedRevision`, a head that moved (or a stream deleted) since the caller read it is
   * CKPT_CONFLICT and nothing changes; serialised with appends to the same stream.
   */
  truncateBefore(
    stream: string,
    revision: Revision,
    base: Snapshot,
    options?: MaintenanceOptions,
  ): Promise<void>;

  /**
   * Removes the stream, its snapshot and head. Appending again starts from "no_stream". With
   * `expectedRevision`, a head that moved since the caller read it is CKPT_CONFLICT and nothing is
   * removed; serialised with appends to the same stream, so no append is half deleted.
   */
  delete(stream: string, options?: MaintenanceOptions): Promise<void>;

  /**
   * Optional: calls `onChange` when another process may have appended to `stream` (PostgreSQL
   * LISTEN/NOTIFY), so watchers read on a signal instead of polling. Resolves with the function
   * that stops it.
   */
  listen?(stream: string, onChange: () => void): Promise<() => Promise<void>>;

  /** Bytes the log takes on disk, where the adapter can tell (for compaction reports). */
  sizeBytes?(): Promise<number>;

  close(): Promise<void>;
}

/**
 * Forward read in batches: the adapter's own `readBatches` when it has one, else `read` in chunks.
 */
export async function* readForward(
  log: EventLog,
  stream: string,
  from: Revision,
): AsyncGenerator<RecordedEvent[]> {
  if (log.readBatches) {
    yield* log.readBatches(stream, { from });
    return;
  }
  let batch: RecordedEvent[] = [];
  for await (const e of log.read(stream, { from })) {
    batch.push(e);
    if (batch.length >= 256) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}
