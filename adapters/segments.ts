/**
 * The segment log (`segmentLog`): an EventLog on log files of our own instead of LevelDB (issue 20).
 * Segments are zero-filled ahead of use and opened `O_DSYNC`, so a group commit is one positional
 * write that returns once it is on disk, made on the main thread (or on libuv's threadpool with
 * `blocking: false`), with no metadata update, where LevelDB appends to its log and fsyncs. Every operation (append, snapshot,
 * truncate, delete) is one frame (segments/frame.ts) applied in order to an in-memory index of
 * stream → pages; reads fetch page bytes by position. Appends queued while a write is in flight go
 * out together in the next write.
 *
 * The folder (segments/folder.ts): a `SEGMENTS` marker (format, version, current generation), the
 * segments of that generation, and `lock/`, whose kernel lock allows one writer (CKPT_LOCKED for a
 * second, released when the holder dies, SIGKILL included). `readOnly` takes no lock and writes
 * nothing: it reads the prefix of the log that is whole when it opens (a frame a live writer has
 * half written is the end), for `ckpt list/show/verify` beside a running pipeline.
 *
 * Space: truncate and delete only append a frame; once the dead bytes (removed pages, superseded
 * snapshots, unused segment tails) outweigh the live ones and the log spans two segments or more,
 * the next truncate/delete rewrites the live state (pages copied as they are, then each stream's
 * head, first revision and snapshots) into a new generation, makes it durable, switches the marker
 * to it (rename + folder fsync) and deletes the old one. It runs in the write queue: appends wait
 * for it (about the time to write the live bytes once) and go into the new generation. A crash at
 * any point leaves the old generation whole (the marker still names it) or the new one.
 *
 * Open cost: recovery reads every segment of the current generation once, through one reused 1 MiB
 * window (segments/window.ts), and keeps one small record per live append (a page) in memory, so
 * open time follows the bytes on disk (at most about twice the live bytes, thanks to the reclaim)
 * and memory follows the number of live appends, not events. Measured (bench/segments-open.ts,
 * 2026-12-06, 2 cores): 10^6 events marked in a hot loop open in 8–25 ms; 10^6 one-event appends
 * (112 MiB on disk) in 1.6–2.7 s, holding ~72 MiB of index. LevelDB reads only the snapshot and
 * the tail, whatever the history.
 */
import fs from "node:fs";
import { join } from "node:path";
import { setImmediate } from "node:timers";
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
import { decodeOp, decodePage, encodePayload, type Op, payloadOf } from "./segments/codec.ts";
import { inspectFolder, type Lock, readMarker, takeLock, writeMarker } from "./segments/folder.ts";
import { frameOf, HEADER, seal } from "./segments/frame.ts";
import { recover } from "./segments/recover.ts";
import {
  listSegments,
  openSegment,
  pread,
  prepareSegment,
  pwrite,
  removeStale,
  writeAllSync,
} from "./segments/segments.ts";

/**
 * Resolves in the loop's check phase, after the I/O callbacks of this turn have run (the next turn's,
 * when called from the check phase itself).
 */
const afterThisTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface SegmentLogOptions {
  /** Bytes per segment file (default 16 MiB); the largest single frame must fit in one. */
  segmentBytes?: number;
  /**
   * Default true: write on the main thread (`writeSync`), as better-sqlite3 does. The event loop
   * stops for the disk's ~0.1–0.2 ms per group commit, which costs nothing while every worker is
   * awaiting that commit, and saves the threadpool round trip (~60–85 µs here, a third of a
   * commit; bench/README.md). The write waits for the loop's check phase, so callers woken by
   * separate I/O callbacks (requests on separate sockets) still share it. False runs the write on
   * libuv's threadpool, so the loop keeps running meanwhile: for CPU-heavy work between updates,
   * or a server answering many clients (ckpt-server uses it).
   */
  blocking?: boolean;
  /**
   * Read what the log holds when it opens, without the lock and without writing a byte (a
   * pipeline may hold the log meanwhile); writes are refused with CKPT_INVALID.
   */
  readOnly?: boolean;
}

/** One open segment file of the current (or a retired) generation. */
interface SegFile {
  n: number;
  fd: number;
  size: number;
}

/** Where one append's events sit: `len` bytes at `at` in `file`. */
interface Page {
  rev: number;
  n: number;
  file: SegFile;
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
  /** Bytes on disk the latest and base snapshots take (for the dead/live balance). */
  snapBytes: number;
  baseBytes: number;
}

interface Pending {
  /** Undefined: a space reclaim, run in its turn. */
  frame?: Uint8Array;
  op?: Op;
  /** Offset of the page within the frame, for appends. */
  pageAt: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Bytes a forward read fetches at once when pages lie close together. */
const READ_SPAN = 1 << 20;
/** What a page's frame costs beyond its events (header, op record), roughly. */
const PAGE_COST = HEADER + 32;
/** A read-only open that meets damage tries again this often (a writer may be mid-write). */
const READ_ATTEMPTS = 5;

const codeOf = (err: unknown) => (err as { code?: string }).code;

/**
 * Opens (or creates, in a new or empty folder) the segment log at `path`.
 * @example const log = await segmentLog("./.ckpt")
 */
export async function segmentLog(
  path: string,
  options: SegmentLogOptions = {},
): Promise<EventLog> {
  if (!options.readOnly) return openWriter(path, options);
  for (let attempt = 1;; attempt++) {
    try {
      return await openLog(path, options, undefined);
    } catch (err) {
      // A writer between two steps (a segment renamed in, a reclaim deleting the old generation, a
      // frame half written): the files settle within one write; damage stays.
      const again = err instanceof Retry || codeOf(err) === ErrorCode.CORRUPT;
      if (!again || attempt >= READ_ATTEMPTS) {
        if (!(err instanceof Retry)) throw err;
        throw err.cause ?? new CkptError(
          ErrorCode.UNAVAILABLE,
          `The segment log at ${path} kept changing while it was read (${err.message}): try again.`,
          { details: { path } },
        );
      }
      await new Promise((r) => setTimeout(r, 20 * attempt));
    }
  }
}

class Retry extends Error {}

async function openWriter(path: string, options: SegmentLogOptions): Promise<EventLog> {
  // Looked at before the lock is taken: a folder that is something else gets no `lock/` in it.
  if (inspectFolder(path).kind === "absent") {
    try {
      fs.mkdirSync(path, { recursive: true });
    } catch (err) {
      throw storageError(path, "Creating", err);
    }
  }
  const lock = await takeLock(path);
  try {
    return await openLog(path, options, lock);
  } catch (err) {
    await lock.release().catch(() => undefined);
    throw err;
  }
}

async function openLog(
  path: string,
  options: SegmentLogOptions,
  lock: Lock | undefined,
): Promise<EventLog> {
  const readOnly = lock === undefined;
  const segmentBytes = options.segmentBytes ?? 16 << 20;
  const blocking = options.blocking ?? true;
  const location = path;
  let gen: number;
  let numbers: number[];
  const files = new Map<number, SegFile>();
  const closeAll = (list: Iterable<SegFile>) => {
    for (const f of list) fs.closeSync(f.fd);
  };

  const found = inspectFolder(path);
  if (readOnly) {
    if (found.kind !== "log") {
      throw new CkptError(ErrorCode.NOT_FOUND, `No ckpt store at ${path}.`, { details: { path } });
    }
    gen = found.marker.generation;
    numbers = listSegments(path).filter((s) => s.gen === gen).map((s) => s.n);
    try {
      for (const n of numbers) {
        const fd = openSegment(path, gen, n, true);
        files.set(n, { n, fd, size: fs.fstatSync(fd).size });
      }
    } catch (err) {
      closeAll(files.values());
      if (codeOf(err) === "ENOENT") throw new Retry("a segment went", { cause: err });
      throw storageError(path, "Opening", err);
    }
    // The marker still names this generation after its files were opened, so they were all there
    // when listed: a reclaim deletes the old generation only after switching the marker.
    if (readMarker(path).generation !== gen) {
      closeAll(files.values());
      throw new Retry("a reclaim switched generations");
    }
  } else {
    try {
      if (found.kind !== "log") {
        // Created under the lock (another process may have raced us to it).
        const again = inspectFolder(path);
        if (again.kind !== "log") await writeMarker(path, 1);
      }
      gen = readMarker(path).generation;
      removeStale(path, gen);
      numbers = listSegments(path).map((s) => s.n);
      if (numbers.length === 0) {
        await prepareSegment(path, gen, 1, segmentBytes);
        numbers = [1];
      }
      for (const n of numbers) {
        const fd = openSegment(path, gen, n);
        files.set(n, { n, fd, size: fs.fstatSync(fd).size });
      }
    } catch (err) {
      closeAll(files.values());
      throw storageError(path, "Opening", err);
    }
  }
  const gap = numbers.findIndex((n, i) => n !== i + 1);
  if (gap >= 0) {
    closeAll(files.values());
    throw new CkptError(
      ErrorCode.CORRUPT,
      `The segment log at ${path} is damaged: segment ${
        gap + 1
      } of generation ${gen} is missing. Nothing was changed. ` +
        `Keep a copy of the folder, then run \`ckpt verify --repair --store ${path}\`.`,
      { details: { path } },
    );
  }

  let streams = new Map<string, StreamState>();
  /** Bytes the live state takes (pages, snapshots), roughly: the reclaim weighs it against the rest. */
  let live = 0;
  const dropPages = (pages: Page[]) => {
    for (const p of pages) live -= p.len + PAGE_COST;
  };
  const apply = (op: Op, file: SegFile, pageAt: number, pageLen: number, frameLen: number) => {
    const s = streams.get(op.s);
    switch (op.k) {
      case "a": {
        const st = s ??
          { first: op.r!, head: op.r! - 1, updatedAt: op.t, pages: [], snapBytes: 0, baseBytes: 0 };
        if (!s) streams.set(op.s, st);
        if (op.n! > 0) {
          st.pages.push({ rev: op.r!, n: op.n!, file, at: pageAt, len: pageLen });
          live += pageLen + PAGE_COST;
        }
        st.head = op.r! + op.n! - 1;
        st.updatedAt = op.t;
        if (op.snap) {
          st.latest = op.snap;
          live += frameLen - pageLen - st.snapBytes;
          st.snapBytes = frameLen - pageLen;
        }
        return;
      }
      case "s":
        if (
          s && op.snap!.revision <= s.head && (!s.latest || s.latest.revision <= op.snap!.revision)
        ) {
          s.latest = op.snap!;
          live += frameLen - s.snapBytes;
          s.snapBytes = frameLen;
        }
        return;
      case "t": {
        if (!s || op.r! <= s.first) return;
        const to = Math.min(op.r!, s.head + 1);
        s.base = op.snap!;
        live += frameLen - s.baseBytes;
        s.baseBytes = frameLen;
        if (!s.latest || s.latest.revision < op.snap!.revision) {
          s.latest = op.snap!;
          live += frameLen - s.snapBytes;
          s.snapBytes = frameLen;
        }
        const cut = s.pages.findIndex((p) => p.rev + p.n > to);
        const gone = cut < 0 ? s.pages.length : cut;
        dropPages(s.pages.slice(0, gone));
        s.pages = s.pages.slice(gone);
        s.first = to;
        return;
      }
      case "d":
        if (!s) return;
        dropPages(s.pages);
        live -= s.snapBytes + s.baseBytes;
        streams.delete(op.s);
        return;
      case "z": {
        // Pages were copied first (as appends); this frame puts back what they cannot say.
        const st = s ??
          { first: 0, head: -1, updatedAt: op.t, pages: [], snapBytes: 0, baseBytes: 0 };
        if (!s) streams.set(op.s, st);
        st.first = op.r!;
        st.head = op.n!;
        st.updatedAt = op.t;
        if (op.snap) st.latest = op.snap;
        else delete st.latest;
        if (op.b) st.base = op.b;
        else delete st.base;
        live += frameLen - st.snapBytes - st.baseBytes;
        st.snapBytes = frameLen;
        st.baseBytes = 0;
      }
    }
  };
  const applyFrame = (file: SegFile, payloadAt: number, payload: Uint8Array) => {
    const { op, pageAt } = decodeOp(payload);
    apply(op, file, payloadAt + pageAt, payload.length - pageAt, HEADER + payload.length);
  };

  let position = { seg: 1, pos: 0, seq: 1 };
  if (numbers.length > 0) {
    try {
      const fds = new Map([...files].map(([n, f]) => [n, f.fd]));
      position = recover(path, gen, numbers, fds, (n, at, payload) => {
        applyFrame(files.get(n)!, at, payload);
      }, readOnly);
    } catch (err) {
      closeAll(files.values());
      throw err instanceof CkptError ? err : storageError(path, "Recovering", err);
    }
  }
  let { seg, pos, seq } = position;
  let next: Promise<void> | undefined;
  const prepareNext = () => {
    if (next || files.has(seg + 1)) return;
    next = prepareSegment(path, gen, seg + 1, segmentBytes);
    next.catch(() => undefined); // awaited (and reported) by the roll that needs it
  };
  if (!readOnly && pos > files.get(seg)!.size / 2) prepareNext();

  let closed = false;
  let failed: CkptError | undefined;
  const check = () => {
    if (closed) {
      throw new CkptError(ErrorCode.CLOSED, `The segment log at ${path} is closed.`);
    }
    if (failed) throw failed;
  };
  const writable = () => {
    check();
    if (readOnly) {
      throw new CkptError(
        ErrorCode.INVALID,
        `The store at ${path} was opened read-only; it cannot be written.`,
        { details: { path } },
      );
    }
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

  // Reads under way, and segment files of a generation replaced meanwhile: closed once no read
  // can still use them (a closed descriptor's number may be handed to another file).
  let reading = 0;
  let retired: SegFile[] = [];
  const closeRetired = () => {
    if (reading > 0) return;
    closeAll(retired);
    retired = [];
  };

  /** Bytes the current generation holds up to the write position, unused segment tails included. */
  const used = () => {
    let total = pos;
    for (const f of files.values()) if (f.n < seg) total += f.size;
    return total;
  };
  /** `used()` when a reclaim last failed (the disk full): not tried again until the log grows. */
  let reclaimFailedAt = -1;
  const reclaimDue = () =>
    !readOnly && seg >= 2 && used() - live > live && used() > reclaimFailedAt;

  const queue: Pending[] = [];
  let pumping: Promise<void> | undefined;

  const roll = async () => {
    prepareNext();
    await next;
    next = undefined;
    const n = seg + 1;
    if (!files.has(n)) {
      files.set(n, { n, fd: openSegment(path, gen, n), size: segmentBytes });
    }
    seg = n;
    pos = 0;
  };

  const pump = async () => {
    let batch: Pending[] = [];
    try {
      while (queue.length > 0) {
        if (!queue[0]!.frame) {
          // Kept in `batch` while it runs: a failure below rejects it with everything queued.
          batch = [queue.shift()!];
          if (reclaimDue()) await reclaim();
          batch[0]!.resolve();
          batch = [];
          continue;
        }
        if (pos + queue[0]!.frame.length > files.get(seg)!.size) await roll();
        const room = files.get(seg)!.size - pos;
        let bytes = 0;
        let take = 0;
        while (
          take < queue.length && queue[take]!.frame &&
          bytes + queue[take]!.frame!.length <= room
        ) {
          bytes += queue[take++]!.frame!.length;
        }
        batch = queue.splice(0, take);
        const at: number[] = [];
        let buf: Uint8Array;
        if (batch.length === 1) {
          seal(batch[0]!.frame!, seq++);
          buf = batch[0]!.frame!;
          at.push(pos);
        } else {
          buf = new Uint8Array(bytes);
          let o = 0;
          for (const p of batch) {
            seal(p.frame!, seq++);
            buf.set(p.frame!, o);
            at.push(pos + o);
            o += p.frame!.length;
          }
        }
        const file = files.get(seg)!;
        if (blocking) writeAllSync(file.fd, buf, pos);
        else await pwrite(file.fd, buf, pos);
        pos += bytes;
        if (pos > file.size / 2) prepareNext();
        for (let k = 0; k < batch.length; k++) {
          const p = batch[k]!;
          const frameLen = p.frame!.length;
          apply(p.op!, file, at[k]! + p.pageAt, frameLen - p.pageAt, frameLen);
          release(p.op!.s);
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

  const enqueue = (p: Pending) => {
    queue.push(p);
    // Never in the caller's own turn, so appends made in the same tick go out in one write (and a
    // blocking pump never finishes before `pumping` is set). A blocking write also waits for the
    // loop's check phase: callers arriving from separate I/O callbacks (requests on separate
    // sockets) each get their microtasks run in between, so from a microtask every one of them
    // would pay its own O_DSYNC write (2.3k req/s instead of 17k behind an HTTP server).
    pumping ??= blocking ? afterThisTurn().then(pump) : Promise.resolve().then(pump);
  };

  const submit = (op: Op, payload: Uint8Array, pageAt = 0): Promise<void> => {
    const frame = frameOf(payload);
    return new Promise<void>((resolve, reject) => {
      enqueue({ frame, op, pageAt: HEADER + pageAt, resolve, reject });
    });
  };

  /** A reclaim in the write queue's turn, when it is due (after a truncate or delete). */
  const reclaimSoon = (): Promise<void> =>
    reclaimDue()
      ? new Promise<void>((resolve, reject) => enqueue({ pageAt: 0, resolve, reject }))
      : Promise.resolve();

  /**
   * Writes the live state into generation `gen + 1` and switches to it (see the header comment).
   * Runs in the pump, so no write is in flight. A failure before the marker names the new
   * generation leaves everything as it was (the new files are removed); one after it is sticky.
   */
  async function reclaim(): Promise<void> {
    await next?.catch(() => undefined);
    next = undefined;
    const to = gen + 1;
    const made = new Map<number, SegFile>();
    let n = 0;
    let at = 0;
    let sq = 1;
    let buf = new Uint8Array(0);
    let fill = 0;
    /** Moves of pages to their new place, applied only once the switch is made. */
    const moves: [Page, SegFile, number][] = [];
    const pendingMoves: [Page, number][] = [];
    const flush = async () => {
      if (fill === 0) return;
      const file = made.get(n)!;
      await pwrite(file.fd, buf.subarray(0, fill), at);
      for (const [p, o] of pendingMoves) moves.push([p, file, at + o]);
      pendingMoves.length = 0;
      at += fill;
      fill = 0;
    };
    const newSegment = async () => {
      await flush();
      n++;
      await prepareSegment(path, to, n, segmentBytes);
      made.set(n, { n, fd: openSegment(path, to, n), size: segmentBytes });
      at = 0;
      buf = new Uint8Array(Math.min(segmentBytes, READ_SPAN));
    };
    const put = async (payload: Uint8Array, page?: Page) => {
      const frame = frameOf(payload);
      seal(frame, sq++);
      if (at + fill + frame.length > segmentBytes) await newSegment();
      if (fill + frame.length > buf.length) await flush();
      if (frame.length > buf.length) {
        // Larger than the write buffer: written on its own.
        const file = made.get(n)!;
        await pwrite(file.fd, frame, at);
        if (page) moves.push([page, file, at + frame.length - page.len]);
        at += frame.length;
        return;
      }
      buf.set(frame, fill);
      if (page) pendingMoves.push([page, fill + frame.length - page.len]);
      fill += frame.length;
    };
    let switched = false;
    try {
      await newSegment();
      for (const [name, s] of streams) {
        for (let i = 0; i < s.pages.length;) {
          // Neighbouring pages read in one go, as forward reads do.
          const j = span(s.pages, i);
          const start = s.pages[i]!;
          const last = s.pages[j - 1]!;
          const bytes = await pread(start.file.fd, last.at + last.len - start.at, start.at);
          for (let k = i; k < j; k++) {
            const p = s.pages[k]!;
            const op: Op = { k: "a", s: name, r: p.rev, n: p.n, t: s.updatedAt };
            await put(payloadOf(op, bytes.subarray(p.at - start.at, p.at - start.at + p.len)), p);
          }
          i = j;
        }
        const z: Op = { k: "z", s: name, r: s.first, n: s.head, t: s.updatedAt };
        if (s.latest) z.snap = s.latest;
        if (s.base) z.b = s.base;
        await put(encodePayload(z));
      }
      await flush();
      // Every frame is on disk (O_DSYNC) and every segment's name too: the switch, made when the
      // marker's rename lands (a failure before it leaves the old generation the log).
      await writeMarker(path, to, () => (switched = true));
    } catch (err) {
      if (switched) throw err;
      closeAll(made.values());
      removeStale(path, gen);
      reclaimFailedAt = used();
      return;
    }
    retired.push(...files.values());
    files.clear();
    for (const [k, f] of made) files.set(k, f);
    for (const [p, file, where] of moves) {
      p.file = file;
      p.at = where;
    }
    gen = to;
    seg = n;
    pos = at;
    seq = sq;
    let total = 0;
    for (const s of streams.values()) {
      for (const p of s.pages) total += p.len + PAGE_COST;
      total += s.snapBytes + s.baseBytes;
    }
    live = total;
    closeRetired();
    // The old generation's files go last: until the marker named the new one, they were the log.
    removeStale(path, gen);
    if (pos > files.get(seg)!.size / 2) prepareNext();
  }

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

  /** Pages of `pages` from index `i` on, decoded, a read of up to READ_SPAN bytes at a time. */
  async function* decoded(pages: Page[], i: number): AsyncGenerator<[Page, CkptEvent[]]> {
    reading++;
    try {
      while (i < pages.length) {
        check();
        const j = span(pages, i);
        const start = pages[i]!;
        const last = pages[j - 1]!;
        const bytes = await pread(start.file.fd, last.at + last.len - start.at, start.at);
        for (let k = i; k < j; k++) {
          const p = pages[k]!;
          try {
            yield [p, decodePage(bytes.subarray(p.at - start.at, p.at - start.at + p.len))];
          } catch (e) {
            if (e instanceof CkptError) throw e;
            throw new CkptError(
              ErrorCode.CORRUPT,
              `Reading the segment log at ${path} failed: a page does not decode (${
                (e as Error).message
              }).`,
              { cause: e },
            );
          }
        }
        i = j;
      }
    } finally {
      reading--;
      if (retired.length > 0) closeRetired();
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
    // Copies of the page records: a reclaim may move the originals while this read goes on.
    const pages = s.pages.slice(firstPage(s.pages, start)).map((p) => ({ ...p }));
    for await (const [p, events] of decoded(pages, 0)) {
      const out: RecordedEvent[] = [];
      for (let k = Math.max(0, start - p.rev); k < events.length && p.rev + k <= head; k++) {
        out.push({ revision: p.rev + k, event: events[k]! });
      }
      if (out.length > 0) yield out;
    }
  }

  return {
    supports: { durable: true, multiProcess: false, atomicSnapshot: true, reclaimsSpace: true },
    location,

    async append(stream: string, events: readonly CkptEvent[], options: AppendOptions) {
      writable();
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
      const first = s.first;
      const pages = s.pages.slice(0, firstPage(s.pages, top) + 1).map((p) => ({ ...p }));
      // Counted as one read from start to end: a reclaim between two pages must not close the
      // files the copied pages still point at.
      reading++;
      try {
        for (let i = pages.length - 1; i >= 0 && n < limit; i--) {
          const p = pages[i]!;
          for await (const [, events] of decoded([p], 0)) {
            for (let k = Math.min(events.length - 1, top - p.rev); k >= 0; k--) {
              if (p.rev + k < first) return;
              yield { revision: p.rev + k, event: events[k]! };
              if (++n >= limit) return;
            }
          }
        }
      } finally {
        reading--;
        if (retired.length > 0) closeRetired();
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
      writable();
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
      writable();
      const head = reservedHead(stream);
      checkExpected(stream, o.expectedRevision ?? "any", head, location);
      if (head === undefined) return;
      const op: Op = { k: "t", s: stream, r: revision, t: Date.now(), snap: structuredClone(base) };
      const payload = encodePayload(op);
      tooLarge(payload, stream);
      reserve(stream, head);
      await submit(op, payload);
      await reclaimSoon();
    },

    async delete(stream: string, o: MaintenanceOptions = {}) {
      writable();
      const head = reservedHead(stream);
      checkExpected(stream, o.expectedRevision ?? "any", head, location);
      if (head === undefined) return;
      const op: Op = { k: "d", s: stream, t: Date.now() };
      reserve(stream, undefined);
      await submit(op, encodePayload(op));
      await reclaimSoon();
    },

    async sizeBytes() {
      // Every file in the folder (segments, marker; not the lock's folder or kept evidence).
      let total = 0;
      for (const name of fs.readdirSync(path)) {
        const st = fs.statSync(join(path, name), { throwIfNoEntry: false });
        if (st?.isFile()) total += st.size;
      }
      return total;
    },

    async close() {
      if (closed) return;
      closed = true;
      while (pumping) await pumping;
      await next?.catch(() => undefined);
      closeAll(files.values());
      files.clear();
      closeAll(retired);
      retired = [];
      streams = new Map(); // the index (a record per append) is not kept alive by a closed log
      await lock?.release().catch(() => undefined);
    },
  };
}

/** End of the run of pages from `i` that lie close together in one file (read in one go). */
function span(pages: Page[], i: number): number {
  const start = pages[i]!;
  let j = i + 1;
  while (
    j < pages.length && pages[j]!.file === start.file &&
    pages[j]!.at + pages[j]!.len - start.at <= READ_SPAN && pages[j]!.at > start.at
  ) j++;
  return j;
}

/** Length of the op record at the start of a payload (codec.ts layout). */
const metaLength = (payload: Uint8Array) =>
  new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0, true);
