/**
 * EXPERIMENT (issue 20), not exported: an EventLog on a log file of our own instead of LevelDB.
 * Segments are zero-filled ahead of use and opened `O_DSYNC`, so a group commit is one positional
 * write that returns once it is on disk: one threadpool hop and no metadata update, where LevelDB
 * appends to its log and fsyncs. Every operation (append, snapshot, truncate, delete) is one frame
 * (prealloc/frame.ts) applied in order to an in-memory index of stream → pages; reads fetch page
 * bytes by position. Appends queued while a write is in flight go out together in the next write.
 * Single process, no lock file yet; truncation does not reclaim space (no compaction).
 */
import fs from "node:fs";
import { CkptError, ErrorCode } from "../core/errors.ts";
import type { CkptEvent } from "../core/events.ts";
import type {
  AppendOptions,
  EventLog,
  MaintenanceOptions,
  ReadOptions,
  RecordedEvent,
  Snapshot,
  StreamInfo,
} from "../core/log.ts";
import { checkExpected } from "./expected.ts";
import { storageError } from "./level/errors.ts";
import { decodeOp, decodePage, encodePayload, type Op } from "./segments/codec.ts";
import { frameOf, HEADER, seal } from "./segments/frame.ts";
import { recover } from "./segments/recover.ts";
import {
  listSegments,
  openSegment,
  pread,
  prepareSegment,
  pwrite,
  writeAllSync,
} from "./segments/segments.ts";

export interface SegmentLogOptions {
  /** Bytes per segment file (default 16 MiB); the largest single frame must fit in one. */
  segmentBytes?: number;
  /**
   * Write on the main thread (`writeSync`), as better-sqlite3 does: the event loop stops for the
   * disk's ~0.1–0.2 ms, but the threadpool round trip (~60 µs here, a third of the write) is gone.
   * Default false: the write runs on libuv's threadpool.
   */
  blocking?: boolean;
}

/** Where one append's events sit: `len` bytes at `at` in segment `seg`. */
interface Page {
  rev: number;
  n: number;
  seg: number;
  at: number;
  len: number;
}

interface StreamState {
  first: number;
  head: number;
  updatedAt: number;
  pages: Page[];
  latest?: Snapshot;
  base?: Snapshot;
}

interface Pending {
  frame: Uint8Array;
  op: Op;
  /** Offset of the page within the frame, for appends. */
  pageAt: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Bytes a forward read fetches at once when pages lie close together. */
const READ_SPAN = 1 << 20;

/**
 * @example const log = await segmentLog("./.ckpt-prealloc")
 */
export async function segmentLog(
  path: string,
  options: SegmentLogOptions = {},
): Promise<EventLog> {
  const segmentBytes = options.segmentBytes ?? 16 << 20;
  const blocking = options.blocking ?? false;
  fs.mkdirSync(path, { recursive: true });
  let segments = listSegments(path);
  if (segments.length === 0) {
    await prepareSegment(path, 1, segmentBytes);
    segments = [1];
  }
  const fds = new Map<number, number>();
  const sizes = new Map<number, number>();
  for (const n of segments) {
    const fd = openSegment(path, n);
    fds.set(n, fd);
    sizes.set(n, fs.fstatSync(fd).size);
  }

  const streams = new Map<string, StreamState>();
  const apply = (op: Op, seg: number, pageAt: number, pageLen: number) => {
    const s = streams.get(op.s);
    switch (op.k) {
      case "a": {
        const st = s ?? { first: op.r!, head: op.r! - 1, updatedAt: op.t, pages: [] };
        if (!s) streams.set(op.s, st);
        if (op.n! > 0) st.pages.push({ rev: op.r!, n: op.n!, seg, at: pageAt, len: pageLen });
        st.head = op.r! + op.n! - 1;
        st.updatedAt = op.t;
        if (op.snap) st.latest = op.snap;
        return;
      }
      case "s":
        if (
          s && op.snap!.revision <= s.head && (!s.latest || s.latest.revision <= op.snap!.revision)
        ) s.latest = op.snap!;
        return;
      case "t": {
        if (!s || op.r! <= s.first) return;
        const to = Math.min(op.r!, s.head + 1);
        s.base = op.snap!;
        if (!s.latest || s.latest.revision < op.snap!.revision) s.latest = op.snap!;
        s.pages = s.pages.filter((p) => p.rev + p.n > to);
        s.first = to;
        return;
      }
      case "d":
        streams.delete(op.s);
    }
  };

  let position;
  try {
    position = recover(path, segments, fds, (seg, payloadAt, payload) => {
      const { op, pageAt } = decodeOp(payload);
      apply(op, seg, payloadAt + pageAt, payload.length - pageAt);
    });
  } catch (err) {
    for (const fd of fds.values()) fs.closeSync(fd);
    throw err;
  }
  let { seg, pos, seq } = position;
  let next: Promise<void> | undefined;
  const prepareNext = () => {
    if (next || fds.has(seg + 1)) return;
    next = prepareSegment(path, seg + 1, segmentBytes);
    next.catch(() => undefined); // awaited (and reported) by the roll that needs it
  };
  if (pos > sizes.get(seg)! / 2) prepareNext();

  const location = path;
  let closed = false;
  let failed: CkptError | undefined;
  const check = () => {
    if (closed) {
      throw new CkptError(ErrorCode.CLOSED, `The preallocated log at ${path} is closed.`);
    }
    if (failed) throw failed;
  };

  // Heads as of every operation accepted but not yet on disk: expected revisions are checked
  // against them, while reads and info see only what is written.
  const reserved = new Map<string, { head: number | undefined; count: number }>();
  const reservedHead = (stream: string) =>
    reserved.has(stream) ? reserved.get(stream)!.head : streams.get(stream)?.head;
  const reserve = (stream: string, head: number | undefined) => {
    const r = reserved.get(stream);
    if (r) {
      r.head = head;
      r.count++;
    } else reserved.set(stream, { head, count: 1 });
  };
  const release = (stream: string) => {
    const r = reserved.get(stream)!;
    if (--r.count === 0) reserved.delete(stream);
  };

  const queue: Pending[] = [];
  let pumping: Promise<void> | undefined;

  const roll = async () => {
    prepareNext();
    await next;
    next = undefined;
    const n = seg + 1;
    if (!fds.has(n)) {
      fds.set(n, openSegment(path, n));
      sizes.set(n, segmentBytes);
    }
    seg = n;
    pos = 0;
  };

  const pump = async () => {
    let batch: Pending[] = [];
    try {
      while (queue.length > 0) {
        if (pos + queue[0]!.frame.length > sizes.get(seg)!) await roll();
        const room = sizes.get(seg)! - pos;
        let bytes = 0;
        let take = 0;
        while (take < queue.length && bytes + queue[take]!.frame.length <= room) {
          bytes += queue[take++]!.frame.length;
        }
        batch = queue.splice(0, take);
        const at: number[] = [];
        let buf: Uint8Array;
        if (batch.length === 1) {
          seal(batch[0]!.frame, seq++);
          buf = batch[0]!.frame;
          at.push(pos);
        } else {
          buf = new Uint8Array(bytes);
          let o = 0;
          for (const p of batch) {
            seal(p.frame, seq++);
            buf.set(p.frame, o);
            at.push(pos + o);
            o += p.frame.length;
          }
        }
        if (blocking) writeAllSync(fds.get(seg)!, buf, pos);
        else await pwrite(fds.get(seg)!, buf, pos);
        pos += bytes;
        if (pos > sizes.get(seg)! / 2) prepareNext();
        for (let k = 0; k < batch.length; k++) {
          const p = batch[k]!;
          apply(p.op, seg, at[k]! + p.pageAt, p.frame.length - p.pageAt);
          release(p.op.s);
          p.resolve();
        }
        batch = [];
      }
    } catch (err) {
      // What reached the disk is unknown and the reserved heads are now wrong: refuse everything
      // from here on; reopening recovers what the disk holds.
      failed = storageError(path, "Writing the log", err);
      for (const p of [...batch, ...queue.splice(0)]) p.reject(failed);
    } finally {
      pumping = undefined;
    }
  };

  const submit = (op: Op, payload: Uint8Array, pageAt = 0): Promise<void> => {
    const frame = frameOf(payload);
    return new Promise<void>((resolve, reject) => {
      queue.push({ frame, op, pageAt: HEADER + pageAt, resolve, reject });
      // From a microtask, so appends made in the same tick go out in one write (and a blocking
      // pump never finishes before `pumping` is set).
      pumping ??= Promise.resolve().then(pump);
    });
  };

  const tooLarge = (payload: Uint8Array, stream: string) => {
    if (HEADER + payload.length <= segmentBytes) return;
    throw new CkptError(
      ErrorCode.INVALID,
      `An append to "${stream}" of ${payload.length} bytes does not fit a ${segmentBytes}-byte segment of ${path}.`,
    );
  };

  const infoOf = (stream: string, s: StreamState): StreamInfo => ({
    stream,
    head: s.head,
    first: s.first,
    updatedAt: s.updatedAt,
  });

  /** Pages of `s` from index `i` on, decoded, a read of up to READ_SPAN bytes at a time. */
  async function* decoded(pages: Page[], i: number): AsyncGenerator<[Page, CkptEvent[]]> {
    while (i < pages.length) {
      const start = pages[i]!;
      let j = i + 1;
      while (
        j < pages.length && pages[j]!.seg === start.seg &&
        pages[j]!.at + pages[j]!.len - start.at <= READ_SPAN && pages[j]!.at > start.at
      ) j++;
      const last = pages[j - 1]!;
      const fd = fds.get(start.seg);
      if (fd === undefined) check();
      const bytes = await pread(fd!, last.at + last.len - start.at, start.at);
      for (let k = i; k < j; k++) {
        const p = pages[k]!;
        try {
          yield [p, decodePage(bytes.subarray(p.at - start.at, p.at - start.at + p.len))];
        } catch (e) {
          if (e instanceof CkptError) throw e;
          throw new CkptError(
            ErrorCode.CORRUPT,
            `Reading the preallocated log at ${path} failed: a page does not decode (${
              (e as Error).message
            }).`,
            { cause: e },
          );
        }
      }
      i = j;
    }
  }

  /** Index of the first page holding revision `from` or later. */
  const firstPage = (pages: Page[], from: number) => {
    let lo = 0;
    let hi = pages.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (pages[mid]!.rev + pages[mid]!.n - 1 < from) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  async function* forward(stream: string, from: number): AsyncGenerator<RecordedEvent[]> {
    check();
    const s = streams.get(stream);
    if (!s) return;
    const start = Math.max(from, s.first);
    const head = s.head;
    const pages = s.pages.slice(firstPage(s.pages, start));
    for await (const [p, events] of decoded(pages, 0)) {
      const out: RecordedEvent[] = [];
      for (let k = Math.max(0, start - p.rev); k < events.length && p.rev + k <= head; k++) {
        out.push({ revision: p.rev + k, event: events[k]! });
      }
      if (out.length > 0) yield out;
    }
  }

  return {
    supports: { durable: true, multiProcess: false, atomicSnapshot: true, reclaimsSpace: false },
    location,

    async append(stream: string, events: readonly CkptEvent[], options: AppendOptions) {
      check();
      const head = reservedHead(stream);
      checkExpected(stream, options.expectedRevision, head, location);
      const r = head === undefined ? 0 : head + 1;
      const op: Op = { k: "a", s: stream, r, n: events.length, t: Date.now() };
      if (options.snapshot) op.snap = structuredClone(options.snapshot);
      const payload = encodePayload(op, events);
      tooLarge(payload, stream);
      reserve(stream, r + events.length - 1);
      await submit(op, payload, 4 + metaLength(payload));
      return { head: r + events.length - 1 };
    },

    async *read(stream: string, options: ReadOptions = {}): AsyncGenerator<RecordedEvent> {
      const limit = options.limit ?? Infinity;
      let n = 0;
      if (limit <= 0) return;
      if (options.direction !== "backward") {
        for await (const batch of forward(stream, options.from ?? 0)) {
          for (const e of batch) {
            yield e;
            if (++n >= limit) return;
          }
        }
        return;
      }
      check();
      const s = streams.get(stream);
      if (!s) return;
      const top = Math.min(options.from ?? s.head, s.head);
      for (let i = firstPage(s.pages, top); i >= 0 && n < limit; i--) {
        const p = s.pages[i];
        if (!p) continue;
        for await (const [, events] of decoded([p], 0)) {
          for (let k = Math.min(events.length - 1, top - p.rev); k >= 0; k--) {
            if (p.rev + k < s.first) return;
            yield { revision: p.rev + k, event: events[k]! };
            if (++n >= limit) return;
          }
        }
      }
    },

    readBatches(stream: string, options: { from?: number } = {}) {
      return forward(stream, options.from ?? 0);
    },

    async streams(options: { prefix?: string } = {}) {
      check();
      const out: StreamInfo[] = [];
      for (const [name, s] of streams) {
        if (!options.prefix || name.startsWith(options.prefix)) out.push(infoOf(name, s));
      }
      return out.sort((a, b) => (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0));
    },

    async info(stream: string) {
      check();
      const s = streams.get(stream);
      return s && infoOf(stream, s);
    },

    async saveSnapshot(stream: string, snapshot: Snapshot) {
      check();
      const head = reservedHead(stream);
      if (head === undefined || snapshot.revision > head) return;
      const op: Op = { k: "s", s: stream, t: Date.now(), snap: structuredClone(snapshot) };
      const payload = encodePayload(op);
      tooLarge(payload, stream);
      reserve(stream, head);
      await submit(op, payload);
    },

    async loadSnapshot(stream: string, which: "latest" | "base" = "latest") {
      check();
      const s = streams.get(stream);
      return which === "base" ? s?.base : s?.latest;
    },

    async truncateBefore(
      stream: string,
      revision: number,
      base: Snapshot,
      o: MaintenanceOptions = {},
    ) {
      check();
      const head = reservedHead(stream);
      checkExpected(stream, o.expectedRevision ?? "any", head, location);
      if (head === undefined) return;
      const op: Op = { k: "t", s: stream, r: revision, t: Date.now(), snap: structuredClone(base) };
      const payload = encodePayload(op);
      tooLarge(payload, stream);
      reserve(stream, head);
      await submit(op, payload);
    },

    async delete(stream: string, o: MaintenanceOptions = {}) {
      check();
      const head = reservedHead(stream);
      checkExpected(stream, o.expectedRevision ?? "any", head, location);
      if (head === undefined) return;
      const op: Op = { k: "d", s: stream, t: Date.now() };
      reserve(stream, undefined);
      await submit(op, encodePayload(op));
    },

    async sizeBytes() {
      let total = 0;
      for (const size of sizes.values()) total += size;
      return total;
    },

    async close() {
      if (closed) return;
      closed = true;
      while (pumping) await pumping;
      await next?.catch(() => undefined);
      for (const fd of fds.values()) fs.closeSync(fd);
      fds.clear();
    },
  };
}

/** Length of the op record at the start of a payload (codec.ts layout). */
const metaLength = (payload: Uint8Array) =>
  new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0, true);
