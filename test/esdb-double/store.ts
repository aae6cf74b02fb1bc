/**
 * The double's storage: EventStoreDB's rules for revisions, expected versions, idempotency, stream
 * metadata and deletion, without gRPC.
 */

/** 64-bit revisions arrive as decimal strings and stay exact as bigint. */
export type Expected = "any" | "no_stream" | "stream_exists" | bigint;

export interface Proposed {
  id: string;
  type: string;
  contentType: string;
  data: Uint8Array;
  customMetadata: Uint8Array;
}

export interface Recorded extends Proposed {
  stream: string;
  revision: number;
  /** Commit (= prepare) position in the double's global log. */
  position: number;
  /** .NET ticks (100 ns) since the Unix epoch, as the server sends them. */
  created: bigint;
}

/** A write's result; `current` is the head as the check saw it, -1 for no stream. */
export type Outcome =
  | { kind: "ok"; current: number; position: number }
  | { kind: "wrong_expected_version"; current: number; expected: Expected }
  | { kind: "deleted" };

export type ReadResult = { kind: "events"; events: Recorded[] } | { kind: "not_found" } | {
  kind: "deleted";
};

/**
 * `$tb` the server writes on a soft delete (long.MaxValue); anything past 2^53 reads as deleted.
 */
export const SOFT_DELETED_TB = "9223372036854775807";

const metastream = (stream: string) => `$$${stream}`;
const utf8 = new TextEncoder();

export class Store {
  readonly #streams = new Map<string, Recorded[]>();
  readonly #tombstoned = new Set<string>();
  readonly #listeners = new Set<(r: Recorded) => void>();
  #position = 0;

  constructor(readonly now: () => number = Date.now) {}

  /** The latest `$metadata` of a stream, as the raw JSON object. */
  metadata(stream: string): Record<string, unknown> {
    const last = this.#streams.get(metastream(stream))?.at(-1);
    if (!last) return {};
    return JSON.parse(new TextDecoder().decode(last.data)) as Record<string, unknown>;
  }

  isTombstoned(stream: string): boolean {
    return this.#tombstoned.has(stream);
  }

  append(stream: string, expected: Expected, proposed: readonly Proposed[]): Outcome {
    if (this.#tombstoned.has(stream)) return { kind: "deleted" };
    const events = this.#streams.get(stream) ?? [];
    const last = events.length - 1;
    const softDeleted = this.#softDeleted(stream);
    const exact = expected === "no_stream" ? -1n : expected;

    // The server answers a re-sent write as a success when the same event ids already sit where
    // they would land.
    const at = softDeleted || proposed.length === 0
      ? -1
      : this.#idempotentAt(events, expected, proposed);
    if (at >= 0) {
      const end = at + proposed.length - 1;
      return { kind: "ok", current: end, position: events[end]!.position };
    }
    const accepted = softDeleted
      ? expected === "any" || expected === "no_stream" || expected === BigInt(last)
      : expected === "any" || (expected === "stream_exists" ? last >= 0 : exact === BigInt(last));
    if (!accepted) {
      return { kind: "wrong_expected_version", current: softDeleted ? -1 : last, expected };
    }
    if (proposed.length === 0) {
      return { kind: "ok", current: softDeleted ? -1 : last, position: this.#position };
    }

    // Appending to a soft-deleted stream brings it back, numbering on, with everything before
    // hidden by `$tb`.
    if (softDeleted) this.setMetadata(stream, { ...this.metadata(stream), $tb: last + 1 });
    this.#write(stream, proposed);
    return { kind: "ok", current: last + proposed.length, position: this.#position };
  }

  setMetadata(
    stream: string,
    metadata: Record<string, unknown>,
    rawJson = JSON.stringify(metadata),
  ): void {
    this.#write(metastream(stream), [
      {
        id: crypto.randomUUID(),
        type: "$metadata",
        contentType: "application/json",
        data: utf8.encode(rawJson),
        customMetadata: new Uint8Array(),
      },
    ]);
  }

  /**
   * Soft delete (`hard: false`) hides the stream behind `$tb`; a tombstone (`hard: true`) is final.
   */
  delete(stream: string, expected: Expected, hard: boolean): Outcome {
    if (this.#tombstoned.has(stream)) return { kind: "deleted" };
    const last = this.#softDeleted(stream) ? -1 : (this.#streams.get(stream)?.length ?? 0) - 1;
    const accepted = expected === "any" ||
      (expected === "no_stream"
        ? last === -1
        : expected === "stream_exists"
        ? last >= 0
        : expected === BigInt(last));
    if (!accepted) return { kind: "wrong_expected_version", current: last, expected };
    if (hard) this.#tombstoned.add(stream);
    else {
      // Written as raw JSON: long.MaxValue does not survive a trip through a JS number.
      const json = JSON.stringify({ ...this.metadata(stream), $tb: 0 }).replace(
        /"\$tb":0/,
        () => `"$tb":${SOFT_DELETED_TB}`,
      );
      this.setMetadata(stream, {}, json);
    }
    return { kind: "ok", current: last, position: ++this.#position };
  }

  /**
   * What a read sees: events before `$tb`, beyond `$maxCount` or older than `$maxAge` are hidden
   * (the real server drops them for good only at the next scavenge).
   */
  read(
    stream: string,
    from: number | "start" | "end",
    backwards: boolean,
    count: number,
  ): ReadResult {
    if (this.#tombstoned.has(stream)) return { kind: "deleted" };
    const events = this.#streams.get(stream) ?? [];
    if (events.length === 0 || this.#softDeleted(stream)) return { kind: "not_found" };
    const meta = this.metadata(stream);
    const maxCount = stream.startsWith("$$") ? 1 : num(meta.$maxCount);
    const lowest = Math.max(
      num(meta.$tb) ?? 0,
      maxCount === undefined ? 0 : events.length - maxCount,
    );
    const maxAge = num(meta.$maxAge);
    const oldest = maxAge === undefined ? 0n : BigInt(this.now() - maxAge * 1000) * 10_000n;
    const visible = (e: Recorded) => e.revision >= lowest && e.created >= oldest;
    const out: Recorded[] = [];
    if (backwards) {
      const start = from === "end"
        ? events.length - 1
        : from === "start"
        ? 0
        : Math.min(from, events.length - 1);
      for (let r = start; r >= 0 && out.length < count; r--) {
        if (visible(events[r]!)) out.push(events[r]!);
      }
    } else {
      const start = from === "start" ? 0 : from === "end" ? events.length : from;
      for (let r = start; r < events.length && out.length < count; r++) {
        if (visible(events[r]!)) out.push(events[r]!);
      }
    }
    return { kind: "events", events: out };
  }

  /**
   * Calls `listener` with every event written from now on, until the returned function is called.
   */
  subscribe(listener: (r: Recorded) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Where `proposed` already sits, or -1. An exact expectation looks right after the expected
   * revision; "any" searches the whole stream (the real server only remembers recent writes, so it
   * is best effort there).
   */
  #idempotentAt(
    events: readonly Recorded[],
    expected: Expected,
    proposed: readonly Proposed[],
  ): number {
    const last = events.length - 1;
    const after = expected === "no_stream" ? -1n : expected;
    const at = typeof after === "bigint"
      ? (after < BigInt(last) ? Number(after) + 1 : -1)
      : events.findIndex((e) => e.id === proposed[0]!.id);
    return at >= 0 && proposed.every((p, i) => events[at + i]?.id === p.id) ? at : -1;
  }

  #softDeleted(stream: string): boolean {
    const tb = this.metadata(stream).$tb;
    return typeof tb === "number" && tb > Number.MAX_SAFE_INTEGER;
  }

  #write(stream: string, proposed: readonly Proposed[]): void {
    const events = this.#streams.get(stream) ?? [];
    this.#streams.set(stream, events);
    const created = BigInt(this.now()) * 10_000n;
    for (const p of proposed) {
      const r: Recorded = {
        ...p,
        stream,
        revision: events.length,
        position: ++this.#position,
        created,
      };
      events.push(r);
      for (const l of this.#listeners) l(r);
    }
  }
}

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}
