/**
 * EventStoreDB / KurrentDB log: `eventStoreLog({ connectionString })` implements the EventLog
 * contract on @eventstore/db-client.
 *
 * What maps to what (prefix defaults to "ckpt-"; stage names cannot start with "_", so no stage
 * collides):
 * - stage `s` → stream `ckpt-s`; each ckpt event is one JSON event whose ESDB event type is the
 *   ckpt `type`; ckpt revision = ESDB stream revision (0-based), offset only after `delete` (see
 *   below);
 * - snapshots → `ckpt-_snap-s` (latest) and `ckpt-_base-s` (left by truncation), each with
 *   `$maxCount: 1`;
 * - `truncateBefore(s, r)` → base snapshot first, then `$tb: r` on `ckpt-s`; `setMaxAge(s, sec)` →
 *   `$maxAge`; the server hides those events at once and frees the space at its next scavenge;
 * - `streams()` reads the index stream `ckpt-_streams`, where a stream's name is appended before
 *   its first event, so listing needs neither server-side projections nor a scan of `$all`; names
 *   whose stream is gone are skipped;
 * - `delete(s)` clears the snapshots, then hides every event with one metadata write, `$tb` =
 *   `ckptBase` = old head + 1. ESDB cannot restart a stream's numbering, so ckpt revision = ESDB
 *   revision − `ckptBase` (0 until a delete).
 */
import { EventStoreDBClient, jsonEvent } from "@eventstore/db-client";
import type { AppendExpectedRevision, EventData, JSONType } from "@eventstore/db-client";
import type { CkptEvent } from "../core/events.ts";
import { CkptError, ErrorCode } from "../core/errors.ts";
import { checkExpected } from "./expected.ts";
import type {
  AppendOptions,
  EventLog,
  ExpectedRevision,
  MaintenanceOptions,
  ReadOptions,
  RecordedEvent,
  Revision,
  Snapshot,
  StreamInfo,
  Supports,
} from "../core/log.ts";
import { isTransient, isWrongExpectedVersion, toCkptError } from "./eventstoredb/errors.ts";
import { redactUrl } from "../core/redact.ts";
import { retry } from "../core/retry.ts";
import { type RawMetadata, readMetadata, updateMetadata } from "./eventstoredb/metadata.ts";
import { edge, type EsdbRecorded, hiddenHead, readRaw } from "./eventstoredb/reads.ts";
import { clearSnapshot, loadSnapshot, putSnapshot } from "./eventstoredb/snapshots.ts";

export interface EventStoreLogOptions {
  /** `esdb://[user:pass@]host:2113?tls=false`, or `esdb+discover://…` for a cluster. Credentials never appear in messages. */
  connectionString: string;
  /** Prepended to every stream name; default "ckpt-". */
  prefix?: string;
  /**
   * An existing client (then `connectionString` only names the server in messages, and close()
   * leaves the client alone).
   */
  client?: EventStoreDBClient;
  /**
   * How many times an append whose outcome is unknown (connection lost) is re-sent with the same
   * event ids; default 3.
   */
  retries?: number;
}

export interface EventStoreLog extends EventLog {
  /**
   * Sets `$maxAge` (seconds) on a stage's event stream, or removes it with `undefined`; snapshots
   * keep the folded state.
   */
  setMaxAge(stream: string, seconds: number | undefined): Promise<void>;
  /** The EventStoreDB streams behind a ckpt stream. */
  names(stream: string): { events: string; snapshot: string; base: string };
  /** The stream `streams()` reads names from. */
  readonly indexStream: string;
}

/**
 * Opens a log on an EventStoreDB or KurrentDB server (nothing is sent until the first call).
 * @example
 * const log = eventStoreLog({ connectionString: "esdb://localhost:2113?tls=false" });
 * await log.append("scrape", [event], { expectedRevision: "no_stream" });
 */
export function eventStoreLog(options: EventStoreLogOptions): EventStoreLog {
  return new EventStoreDBLog(options);
}

const INDEX_TYPE = "ckpt.stream";
const BASE_KEY = "ckptBase";

const baseOf = (m: RawMetadata): number => (typeof m[BASE_KEY] === "number" ? m[BASE_KEY] : 0);

class EventStoreDBLog implements EventStoreLog {
  readonly supports: Supports = {
    durable: true,
    multiProcess: true,
    atomicSnapshot: false,
    reclaimsSpace: false,
  };
  readonly location: string;
  readonly indexStream: string;
  readonly #client: EventStoreDBClient;
  readonly #ownsClient: boolean;
  readonly #prefix: string;
  readonly #retries: number;
  /**
   * Streams this process knows are in the index, so each is registered at most once per process.
   */
  readonly #registered = new Set<string>();
  /** Snapshot streams this process has seen capped at `$maxCount: 1`. */
  readonly #capped = new Set<string>();
  /** `ckptBase` per stream, refreshed by every info() and after every conflict. */
  readonly #bases = new Map<string, number>();
  #closed = false;

  constructor(options: EventStoreLogOptions) {
    this.location = redactUrl(options.connectionString);
    this.#prefix = options.prefix ?? "ckpt-";
    this.indexStream = `${this.#prefix}_streams`;
    this.#retries = options.retries ?? 3;
    this.#ownsClient = options.client === undefined;
    try {
      this.#client = options.client ??
        EventStoreDBClient.connectionString(options.connectionString);
    } catch (e) {
      const why = (e instanceof Error ? e.message : String(e)).split(options.connectionString).join(
        this.location,
      );
      throw new CkptError(
        ErrorCode.INVALID,
        `Invalid EventStoreDB connection string ${this.location}: ${why}`,
        { cause: e },
      );
    }
  }

  names(stream: string): { events: string; snapshot: string; base: string } {
    if (stream === "" || stream.startsWith("_")) {
      throw new CkptError(
        ErrorCode.INVALID,
        `Invalid stream name ${JSON.stringify(stream)}: it must not be empty or start with "_".`,
      );
    }
    const p = this.#prefix;
    return { events: p + stream, snapshot: `${p}_snap-${stream}`, base: `${p}_base-${stream}` };
  }

  async append(
    stream: string,
    events: readonly CkptEvent[],
    options: AppendOptions,
  ): Promise<{ head: Revision }> {
    const name = this.#names(stream).events;
    const head = await this.#guard(stream, async () => {
      const expected = options.expectedRevision;
      // "no_stream" is rare (a stage's first write) and must see a delete made elsewhere, so it
      // reads the base afresh.
      const base = expected === "no_stream"
        ? await this.#freshBase(stream)
        : await this.#base(stream);
      await this.#register(stream, name, expected);
      const esdb: AppendExpectedRevision = expected === "any"
        ? "any"
        : expected === "no_stream"
        ? (base === 0 ? "no_stream" : BigInt(base - 1))
        : BigInt(expected + base);
      // Ids are fixed once per call so that a re-sent append is recognised by the server, not
      // written twice.
      const data = events.map((event) =>
        jsonEvent({ id: crypto.randomUUID(), type: event.type, data: event as unknown as JSONType })
      );
      try {
        return (await this.#appendRetrying(name, data, esdb)) - base;
      } catch (e) {
        if (isWrongExpectedVersion(e)) this.#bases.delete(stream);
        throw e;
      }
    });
    if (options.snapshot) await this.saveSnapshot(stream, options.snapshot);
    return { head };
  }

  async *read(stream: string, options: ReadOptions = {}): AsyncIterable<RecordedEvent> {
    const name = this.#names(stream).events;
    if (options.from !== undefined && !(Number.isSafeInteger(options.from) && options.from >= 0)) {
      throw new CkptError(
        ErrorCode.INVALID,
        `Cannot read "${stream}" from ${options.from}: revisions are whole numbers from 0.`,
      );
    }
    const maxCount = options.limit ?? Number.MAX_SAFE_INTEGER;
    if (maxCount <= 0) return;
    const base = await this.#guard(stream, () => this.#base(stream));
    const from = options.from === undefined ? undefined : BigInt(options.from + base);
    try {
      for await (
        const event of readRaw(
          this.#client,
          name,
          options.direction === "backward" ? "backwards" : "forwards",
          maxCount,
          from,
        )
      ) {
        const revision = Number(event.revision) - base;
        if (revision >= 0) yield { revision, event: decodeEvent(event) };
      }
    } catch (e) {
      throw toCkptError(e, this.location, stream);
    }
  }

  async streams(options: { prefix?: string } = {}): Promise<StreamInfo[]> {
    this.#assertOpen();
    const names = new Set<string>();
    await this.#guard(this.indexStream, async () => {
      for await (
        const event of readRaw(this.#client, this.indexStream, "forwards", Number.MAX_SAFE_INTEGER)
      ) {
        const stream = (event.data as { stream?: unknown } | null)?.stream;
        if (typeof stream === "string" && stream.startsWith(options.prefix ?? "")) {
          names.add(stream);
        }
      }
    });
    const infos = await Promise.all([...names].sort().map((s) => this.info(s)));
    return infos.filter((i): i is StreamInfo => i !== undefined);
  }

  async info(stream: string): Promise<StreamInfo | undefined> {
    const name = this.#names(stream).events;
    return await this.#guard(stream, async () => {
      const [base, seen] = await Promise.all([
        this.#freshBase(stream),
        edge(this.#client, name, "backwards"),
      ]);
      // Nothing readable may still be a stream whose every event is hidden by $tb or $maxAge, or
      // one another writer created since our read: read again, or its visible events would pass for
      // compacted ones.
      const hidden = seen ? undefined : await hiddenHead(this.#client, name);
      const last = seen ??
        (hidden === undefined ? undefined : await edge(this.#client, name, "backwards"));
      const head = last ? Number(last.revision) : hidden;
      if (head === undefined || head < base) return undefined;
      const first = last
        ? Number((await edge(this.#client, name, "forwards"))?.revision ?? head)
        : head + 1;
      return {
        stream,
        head: head - base,
        first: Math.max(first, base) - base,
        updatedAt: last ? last.created.getTime() : 0,
      };
    });
  }

  async saveSnapshot(stream: string, snapshot: Snapshot): Promise<void> {
    const name = this.#names(stream).snapshot;
    const info = await this.info(stream);
    if (!info || snapshot.revision > info.head) return;
    await this.#guard(
      stream,
      () => putSnapshot(this.#client, name, snapshot, this.#capped, this.location),
    );
  }

  async loadSnapshot(
    stream: string,
    which: "latest" | "base" = "latest",
  ): Promise<Snapshot | undefined> {
    const names = this.#names(stream);
    return await this.#guard(
      stream,
      () =>
        loadSnapshot(this.#client, which === "base" ? names.base : names.snapshot, this.location),
    );
  }

  async truncateBefore(
    stream: string,
    revision: Revision,
    base: Snapshot,
    options: MaintenanceOptions = {},
  ): Promise<void> {
    const names = this.#names(stream);
    const info = await this.info(stream);
    // Read afresh: another process may have appended or deleted since the caller decided. (ESDB
    // cannot make a metadata write conditional on the event stream's revision, so a write landing
    // in the few ms between this read and the metadata write is not caught; $tb only hides events
    // below `revision`, which a later append never is.)
    checkExpected(stream, options.expectedRevision ?? "any", info?.head, this.location);
    if (!info || revision <= info.first) return;
    const offset = this.#bases.get(stream) ?? 0;
    const tb = Math.min(revision, info.head + 1) + offset;
    await this.#guard(stream, async () => {
      // The base snapshot lands before any event disappears, so state is never lost in between.
      await putSnapshot(this.#client, names.base, base, this.#capped, this.location);
      await putSnapshot(this.#client, names.snapshot, base, this.#capped, this.location);
      // $tb only ever moves forward: lowering it could bring back events the server has not
      // scavenged yet.
      await updateMetadata(
        this.#client,
        names.events,
        (m) => (typeof m.$tb === "number" && m.$tb >= tb ? undefined : { ...m, $tb: tb }),
      );
    });
  }

  async setMaxAge(stream: string, seconds: number | undefined): Promise<void> {
    const name = this.#names(stream).events;
    if (seconds !== undefined && !(Number.isSafeInteger(seconds) && seconds > 0)) {
      throw new CkptError(
        ErrorCode.INVALID,
        `$maxAge must be a positive whole number of seconds, not ${seconds}.`,
      );
    }
    await this.#guard(stream, () =>
      updateMetadata(this.#client, name, (m) => {
        if (m.$maxAge === seconds) return undefined;
        const { $maxAge: _, ...rest } = m;
        return seconds === undefined ? rest : { ...rest, $maxAge: seconds };
      }));
  }

  async delete(stream: string, options: MaintenanceOptions = {}): Promise<void> {
    const names = this.#names(stream);
    const expected = options.expectedRevision ?? "any";
    if (expected !== "any") {
      checkExpected(stream, expected, (await this.info(stream))?.head, this.location);
    }
    await this.#guard(stream, async () => {
      // Snapshots first: a snapshot outliving its events would claim state the new stream never
      // had.
      for (const side of [names.snapshot, names.base]) await clearSnapshot(this.#client, side);
      const last = await edge(this.#client, names.events, "backwards");
      const head = last ? Number(last.revision) : await hiddenHead(this.#client, names.events);
      if (head === undefined) return;
      // One metadata write hides every event and moves revision 0 past them, atomically.
      await updateMetadata(
        this.#client,
        names.events,
        (m) => (baseOf(m) > head ? undefined : { ...m, $tb: head + 1, [BASE_KEY]: head + 1 }),
      );
      this.#bases.set(stream, head + 1);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsClient) await this.#client.dispose();
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new CkptError(ErrorCode.CLOSED, `The EventStoreDB log at ${this.location} is closed.`);
    }
  }

  #names(stream: string): { events: string; snapshot: string; base: string } {
    this.#assertOpen();
    return this.names(stream);
  }

  async #guard<T>(stream: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      throw toCkptError(e, this.location, stream);
    }
  }

  async #base(stream: string): Promise<number> {
    return this.#bases.get(stream) ?? (await this.#freshBase(stream));
  }

  async #freshBase(stream: string): Promise<number> {
    const base = baseOf((await readMetadata(this.#client, this.names(stream).events)).data);
    this.#bases.set(stream, base);
    return base;
  }

  /**
   * Records the stream in the index before its first event lands, so a crash in between leaves at
   * most a name without a stream (skipped by `streams()`), never a stream nobody lists. A stream
   * expected at an exact revision already exists, so whoever created it registered it.
   */
  async #register(stream: string, name: string, expected: ExpectedRevision): Promise<void> {
    if (this.#registered.has(stream)) return;
    if (
      typeof expected === "number" ||
      (expected === "any" && (await edge(this.#client, name, "backwards")))
    ) {
      this.#registered.add(stream);
      return;
    }
    await this.#client.appendToStream(
      this.indexStream,
      jsonEvent({ type: INDEX_TYPE, data: { stream } }),
      { expectedRevision: "any" },
    );
    this.#registered.add(stream);
  }

  /** Appends and returns the ESDB head, re-sending the same events when the outcome is unknown. */
  async #appendRetrying(
    name: string,
    data: EventData[],
    expected: AppendExpectedRevision,
  ): Promise<number> {
    return retry(
      async (attempt) => {
        // A re-send with "any": the server's duplicate check covers recent writes only, so look for
        // the events first.
        if (attempt > 0 && expected === "any" && data.length > 0) {
          const at = await this.#find(name, data[0]!.id).catch(() => undefined);
          if (at !== undefined) return at + data.length - 1;
        }
        return Number(
          (await this.#client.appendToStream(name, data, { expectedRevision: expected }))
            .nextExpectedRevision,
        );
      },
      { retryable: isTransient, attempts: this.#retries + 1 },
    );
  }

  /** ESDB revision of the event with this id among the last 1000 of the stream. */
  async #find(name: string, id: string): Promise<number | undefined> {
    for await (const event of readRaw(this.#client, name, "backwards", 1000)) {
      if (event.id === id) return Number(event.revision);
    }
    return undefined;
  }
}

function decodeEvent(e: EsdbRecorded): CkptEvent {
  const data = e.data as { type?: unknown } | null;
  if (!e.isJson || typeof data !== "object" || data === null || typeof data.type !== "string") {
    throw new CkptError(
      ErrorCode.CORRUPT,
      `Event ${e.revision} of EventStoreDB stream "${e.streamId}" is not a ckpt event.`,
    );
  }
  return data as CkptEvent;
}
