/**
 * The embedded EventLog on LevelDB (`level`), the default. One database, three sublevels:
 * `e` event pages (key: stream NUL 12-hex-digit revision of the page's first event; value: the
 * msgpack'd events of one append), `h` stream heads, `s` snapshots. An append, its head and its
 * snapshot go in one chained batch: one write, one fsync, never out of step after a crash.
 * Pages rather than one key per event because LevelDB's per-key cost dwarfs decoding.
 */
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { Level } from "level";
import { Packr, Unpackr } from "msgpackr";
import { CkptError, ErrorCode, isCkptError } from "../core/errors.ts";
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
import { keyedQueue } from "../core/keyed-queue.ts";
import { retry } from "../core/retry.ts";
import { checkExpected } from "./expected.ts";
import { fromColumns, toColumns } from "./item-columns.ts";
import { frame, nextChain, NO_CHAIN, unframe } from "./level/chain.ts";
import { readColumns, recordsOfColumns } from "./level/columns.ts";
import { guardLog, type LevelExtras } from "./level/guard.ts";
import { Ledger } from "./level/ledger.ts";
import { storageError } from "./level/errors.ts";
import { ledgerProblem, openLevel } from "./level/open.ts";

export type Durability = "sync" | "os";

export interface LevelLogOptions {
  /** "sync" (default): every append is fsynced before it is acknowledged, surviving a power cut.
   *  "os": written to the OS before it is acknowledged, surviving a process crash but not a power cut. */
  durability?: Durability;
  /**
   * Open a private view (see adapters/level/view.ts): the store's own files are only read; writes
   * are refused.
   */
  readOnly?: boolean;
}

interface Head {
  head: number;
  first: number;
  updatedAt: number;
  /**
   * The checksum chain after the last page (adapters/level/chain.ts); absent on heads written
   * before it.
   */
  chain?: string;
}

type Bytes = Uint8Array;

const SEP = "\x00";
const END = "\x01";
const pageKey = (stream: string, revision: number) =>
  stream + SEP + revision.toString(16).padStart(12, "0");
const revisionOf = (key: string) => parseInt(key.slice(key.lastIndexOf(SEP) + 1), 16);
// A fresh Packr per value: its sequential records describe themselves, so each value decodes alone.
const pack = (v: unknown): Bytes => new Packr({ useRecords: true, sequential: true }).pack(v);
const unpacker = new Unpackr({ useRecords: true, sequential: true });

/**
 * The hot path's pages (thousands of bare `done(i)`) are packed as columns (adapters/item-columns.ts):
 * several times faster to pack and unpack than event objects. Any other page is an array of events.
 */
function encodePage(events: readonly CkptEvent[]): Bytes {
  return pack(toColumns(events) ?? events);
}

function decodePage(value: unknown): CkptEvent[] {
  return Array.isArray(value) ? (value as CkptEvent[]) : fromColumns(value);
}

/** Pages a LevelDB read fetches at once, and events per batch a column page is handed out in. */
const PAGES_PER_READ = 64;
const SLICE = 256;

/** `events` numbered from `first`, leaving out the `skip` first ones. */
function recordsOf(events: CkptEvent[], first: number, skip: number): RecordedEvent[] {
  const out: RecordedEvent[] = new Array(Math.max(0, events.length - skip));
  for (let i = skip; i < events.length; i++) {
    out[i - skip] = { revision: first + i, event: events[i]! };
  }
  return out;
}

/**
 * What `verify --repair` needs of the storage format (adapters/level/repair.ts); throws on bytes
 * that do not decode.
 */
export const storedFormat = {
  SEP,
  END,
  pageKey,
  revisionOf,
  pack,
  page: (bytes: Bytes): CkptEvent[] => decodePage(unpacker.unpack(unframe(bytes).payload)),
  value: <T>(bytes: Bytes): T => unpacker.unpack(bytes) as T,
};

/**
 * Opens the LevelDB folder at `path`, creating a store only where there is none (no folder, or an
 * empty one). Damage found on the way in is a CKPT_CORRUPT and the store stays as it was
 * (adapters/level/open.ts).
 * @example const log = await levelLog("./.ckpt", { durability: "sync" })
 */
export async function levelLog(
  path: string,
  options: LevelLogOptions = {},
): Promise<EventLog & LevelExtras> {
  if (!options.readOnly) return openLog(path, options);
  // A view copied while a pipeline writes may catch its files mid-change (a table named but not yet
  // copied): while the store's files keep changing, a view that does not open is taken again.
  let before = "";
  return retry(
    async () => {
      before = await listing(path);
      return openLog(path, options);
    },
    {
      retryable: (err) => isCkptError(err, ErrorCode.CORRUPT),
      attempts: 4,
      backoff: false,
      // Files that stood still while the view failed are damage, not a copy caught mid-change: no
      // second try.
      onRetry: async (err) => {
        if ((await listing(path)) === before) throw err;
      },
    },
  );
}

async function listing(path: string): Promise<string> {
  const names = (await readdir(path).catch(() => [] as string[])).filter((n) =>
    n !== "LOG" && n !== "LOG.old"
  ).sort();
  const sizes = await Promise.all(
    names.map((n) => stat(join(path, n)).then((s) => `${n}:${s.size}:${s.mtimeMs}`, () => n)),
  );
  return sizes.join("|");
}

async function openLog(path: string, options: LevelLogOptions): Promise<EventLog & LevelExtras> {
  const sync = (options.durability ?? "sync") === "sync";
  const opened = await openLevel(path, options.readOnly === true);
  const db: Level<string, Bytes> = opened.db;
  const pages = db.sublevel<string, Bytes>("e", { keyEncoding: "utf8", valueEncoding: "view" });
  const heads = db.sublevel<string, Bytes>("h", { keyEncoding: "utf8", valueEncoding: "view" });
  const snaps = db.sublevel<string, Bytes>("s", { keyEncoding: "utf8", valueEncoding: "view" });
  // This process holds LevelDB's lock, so a cached head can never go stale.
  const headCache = new Map<string, Head | null>();
  let closed = false;
  // One write per stream at a time: a delete or truncate scans keys before its batch, so an append
  // landing in between would be half deleted (orphan pages) or resurrect a deleted head.
  const serial = keyedQueue();

  const check = () => {
    if (closed) throw new CkptError(ErrorCode.CLOSED, `The store at ${path} is closed.`);
  };
  const io = (what: string, err: unknown) => storageError(path, what, err);
  const decode = <T>(bytes: Bytes, what: string, page = false): T => {
    try {
      const value = unpacker.unpack(page ? unframe(bytes).payload : bytes);
      return (page ? decodePage(value) : value) as T;
    } catch (err) {
      throw new CkptError(
        ErrorCode.CORRUPT,
        `Cannot decode ${what} in the store at ${path}: ${
          (err as Error).message
        }. Run \`ckpt verify\`.`,
        { cause: err },
      );
    }
  };

  async function getHead(stream: string): Promise<Head | undefined> {
    const cached = headCache.get(stream);
    if (cached !== undefined) return cached ?? undefined;
    const raw = await heads.get(stream);
    const h = raw === undefined ? null : decode<Head>(raw, `the head of "${stream}"`);
    if (!headCache.has(stream)) headCache.set(stream, h);
    return headCache.get(stream) ?? undefined;
  }

  /** The key of the page holding `revision` (the last page starting at or before it). */
  async function pageStartAtOrBefore(
    stream: string,
    revision: number,
  ): Promise<string | undefined> {
    for await (
      const key of pages.keys({
        gte: stream + SEP,
        lte: pageKey(stream, revision),
        reverse: true,
        limit: 1,
      })
    ) return key;
    return undefined;
  }

  async function* readBatches(
    stream: string,
    o: { from?: number } = {},
  ): AsyncGenerator<RecordedEvent[]> {
    check();
    const h = await getHead(stream);
    if (!h) return;
    const from = Math.max(o.from ?? 0, h.first);
    if (from > h.head) return;
    const startKey = (await pageStartAtOrBefore(stream, from)) ?? stream + SEP;
    const it = pages.iterator({ gte: startKey, lt: stream + END });
    let pending: ReturnType<typeof it.nextv> | undefined;
    let round = 0;
    try {
      for (;;) {
        const entries = await (pending ?? it.nextv(PAGES_PER_READ));
        pending = undefined;
        if (entries.length === 0) return;
        // A reader back for a second batch reads on: from then, the next nextv() runs in LevelDB's
        // thread while this one's pages are consumed (a short read, e.g. with a limit, fetches
        // nothing extra).
        if (round++ > 0) {
          pending = it.nextv(PAGES_PER_READ);
          // Handled here as well: it may fail while the caller is still busy with this batch
          // (awaited below, it still throws).
          pending.catch(() => undefined);
        }
        // One page per yield at most, and a column page in slices: a whole nextv() of decoded
        // events at once would keep far more alive than needed.
        for (const [key, value] of entries) {
          const first = revisionOf(key);
          const skip = Math.max(0, from - first);
          const cols = readColumns(unframe(value).payload);
          if (cols) {
            for (let k = skip; k < cols.at.length; k += SLICE) {
              yield recordsOfColumns(cols, first, k, Math.min(k + SLICE, cols.at.length));
            }
            continue;
          }
          const out = recordsOf(
            decode<CkptEvent[]>(value, `events of "${stream}" at ${first}`, true),
            first,
            skip,
          );
          if (out.length > 0) yield out;
        }
      }
    } finally {
      // A read still under way when the caller stops: close() waits for it.
      await it.close();
    }
  }

  if (opened.ledger) {
    const problem = await ledgerProblem(path, opened.ledger, getHead).catch((err: unknown) =>
      storageError(path, "Checking the ledger", err)
    );
    if (problem) await opened.refuse(problem);
    headCache.clear();
  }
  await opened.settle();
  const ledger = options.readOnly
    ? undefined
    : new Ledger(path, new Map(opened.ledger ?? []), (err) => log.fail(err));

  /**
   * Checks each page's link to the one before and the head's chain; the first problem, or
   * undefined.
   */
  async function verifyChain(stream: string): Promise<string | undefined> {
    const h = await getHead(stream);
    if (!h) return undefined;
    let running: string | undefined;
    let last = h.first - 1;
    for await (const [key, value] of pages.iterator({ gte: stream + SEP, lt: stream + END })) {
      const { prev, payload } = unframe(value);
      const first = revisionOf(key);
      if (prev !== undefined && running !== undefined && prev !== running) {
        return `the page at revision ${first} does not follow the one before it (checksum chain broken)`;
      }
      running = prev === undefined ? undefined : nextChain(prev, payload);
      last = first + decode<CkptEvent[]>(value, `events of "${stream}" at ${first}`, true).length -
        1;
    }
    if (h.chain !== undefined && running !== undefined && last === h.head && running !== h.chain) {
      return `the events up to revision ${h.head} are not what was written (checksum chain differs from the head's)`;
    }
    return undefined;
  }

  async function appendNow(
    stream: string,
    events: readonly CkptEvent[],
    o: AppendOptions,
  ): Promise<{ head: number }> {
    await getHead(stream);
    // Re-read after the await: another append may have claimed revisions meanwhile.
    const prev = headCache.get(stream) ?? undefined;
    checkExpected(stream, o.expectedRevision, prev?.head, path);
    if (events.length === 0) return { head: prev?.head ?? -1 };
    const start = (prev?.head ?? -1) + 1;
    // Encoded before anything is claimed: a value msgpack cannot encode must leave the stream as it
    // was.
    let payload: Bytes, page: Bytes, headBytes: Bytes, snapBytes: Bytes | undefined;
    const before = prev?.chain ?? NO_CHAIN;
    let next: Head;
    try {
      payload = encodePage(events);
      next = {
        head: start + events.length - 1,
        first: prev?.first ?? 0,
        updatedAt: Date.now(),
        chain: nextChain(before, payload),
      };
      page = frame(before, payload);
      headBytes = pack(next);
      snapBytes = o.snapshot && pack(o.snapshot);
    } catch (err) {
      throw new CkptError(
        ErrorCode.INVALID,
        `Cannot encode the events for "${stream}": ${
          (err as Error)?.message ?? err
        }; nothing was written.`,
        { cause: err },
      );
    }
    // Claim the revisions before awaiting, so a concurrent append sees the new head and conflicts.
    headCache.set(stream, next);
    const batch = db.batch();
    batch.put(pageKey(stream, start), page, { sublevel: pages });
    batch.put(stream, headBytes, { sublevel: heads });
    if (snapBytes) batch.put(stream, snapBytes, { sublevel: snaps });
    try {
      await batch.write({ sync });
    } catch (err) {
      headCache.set(stream, prev ?? null);
      throw io(`Appending to "${stream}"`, err);
    }
    ledger?.note(stream, next.head, next.chain!);
    return { head: next.head };
  }

  /** Returns where the removed range ends, for the compaction that reclaims it. */
  async function truncateNow(
    stream: string,
    revision: number,
    base: Snapshot,
    o: MaintenanceOptions,
  ): Promise<number | undefined> {
    const h = await getHead(stream);
    checkExpected(stream, o.expectedRevision ?? "any", h?.head, path);
    if (!h || revision <= h.first) return undefined;
    const to = Math.min(revision, h.head + 1);
    const keys: string[] = [];
    for await (
      const key of pages.keys({ gte: stream + SEP, lte: pageKey(stream, to), reverse: false })
    ) keys.push(key);
    // The last page starting at or before `to` may still hold events from `to` on: keep it.
    const last = keys[keys.length - 1];
    if (last !== undefined && revisionOf(last) <= to && to <= h.head) keys.pop();
    const batch = db.batch();
    for (const key of keys) batch.del(key, { sublevel: pages });
    batch.put(stream + SEP + "base", pack(base), { sublevel: snaps });
    const latest = await snaps.get(stream);
    if (
      !latest || decode<Snapshot>(latest, `the snapshot of "${stream}"`).revision < base.revision
    ) batch.put(stream, pack(base), { sublevel: snaps });
    const next: Head = { ...h, first: to };
    batch.put(stream, pack(next), { sublevel: heads });
    try {
      await batch.write({ sync });
    } catch (err) {
      throw io(`Truncating "${stream}"`, err);
    }
    headCache.set(stream, next);
    return to;
  }

  async function deleteNow(stream: string, o: MaintenanceOptions): Promise<void> {
    checkExpected(stream, o.expectedRevision ?? "any", (await getHead(stream))?.head, path);
    const batch = db.batch();
    for await (const key of pages.keys({ gte: stream + SEP, lt: stream + END })) {
      batch.del(key, { sublevel: pages });
    }
    batch.del(stream, { sublevel: heads });
    batch.del(stream, { sublevel: snaps });
    batch.del(stream + SEP + "base", { sublevel: snaps });
    try {
      await batch.write({ sync });
    } catch (err) {
      throw io(`Deleting "${stream}"`, err);
    }
    headCache.set(stream, null);
  }

  const log = guardLog({
    supports: { durable: true, multiProcess: false, atomicSnapshot: true, reclaimsSpace: true },
    location: path,

    async append(stream: string, events: readonly CkptEvent[], o: AppendOptions) {
      check();
      return serial(stream, () => appendNow(stream, events, o));
    },

    async *read(stream: string, o: ReadOptions = {}): AsyncGenerator<RecordedEvent> {
      check();
      const h = await getHead(stream);
      if (!h) return;
      const limit = o.limit ?? Infinity;
      let n = 0;
      if (o.direction === "backward") {
        let at = Math.min(o.from ?? h.head, h.head);
        if (at < h.first) return;
        const startKey = await pageStartAtOrBefore(stream, at);
        if (!startKey) return;
        for await (
          const [key, value] of pages.iterator({ gte: stream + SEP, lte: startKey, reverse: true })
        ) {
          const first = revisionOf(key);
          const events = decode<CkptEvent[]>(value, `events of "${stream}" at ${first}`, true);
          for (let i = Math.min(at - first, events.length - 1); i >= 0 && n < limit; i--, n++) {
            if (first + i < h.first) return;
            yield { revision: first + i, event: events[i]! };
          }
          if (n >= limit) return;
          at = first - 1;
        }
        return;
      }
      for await (const batch of readBatches(stream, { from: o.from ?? 0 })) {
        for (const e of batch) {
          if (n++ >= limit) return;
          yield e;
        }
      }
    },

    readBatches,

    async streams(o: { prefix?: string } = {}) {
      check();
      const out: StreamInfo[] = [];
      const range = o.prefix ? { gte: o.prefix, lt: o.prefix + "\uffff" } : {};
      for await (const [stream, value] of heads.iterator(range)) {
        const h = decode<Head>(value, `the head of "${stream}"`);
        out.push({ stream, head: h.head, first: h.first, updatedAt: h.updatedAt });
      }
      return out;
    },

    async info(stream: string) {
      check();
      const h = await getHead(stream);
      return h && { stream, head: h.head, first: h.first, updatedAt: h.updatedAt };
    },

    async saveSnapshot(stream: string, snapshot: Snapshot) {
      check();
      const h = await getHead(stream);
      if (!h || snapshot.revision > h.head) return;
      const current = await snaps.get(stream);
      if (
        current &&
        decode<Snapshot>(current, `the snapshot of "${stream}"`).revision > snapshot.revision
      ) return;
      await db.batch().put(stream, pack(snapshot), { sublevel: snaps }).write({ sync }).catch(
        (e: unknown) => {
          throw io(`Saving the snapshot of "${stream}"`, e);
        },
      );
    },

    async loadSnapshot(stream: string, which: "latest" | "base" = "latest") {
      check();
      const raw = await snaps.get(which === "base" ? stream + SEP + "base" : stream);
      return raw === undefined
        ? undefined
        : decode<Snapshot>(raw, `the ${which} snapshot of "${stream}"`);
    },

    async truncateBefore(
      stream: string,
      revision: number,
      base: Snapshot,
      o: MaintenanceOptions = {},
    ) {
      check();
      const to = await serial(stream, () => truncateNow(stream, revision, base, o));
      // Outside the stream's turn: reclaiming disk need not hold up the next append.
      if (to !== undefined) await compact(pages, pageKey(stream, 0), pageKey(stream, to));
    },

    async delete(stream: string, o: MaintenanceOptions = {}) {
      check();
      await serial(stream, () => deleteNow(stream, o));
      await compact(pages, stream + SEP, stream + END);
    },

    async sizeBytes() {
      let total = 0;
      // A file may go between the listing and its stat (the ledger's temp file is renamed over the
      // ledger).
      for (const name of await readdir(path)) {
        total += (await stat(join(path, name)).catch(() => undefined))?.size ?? 0;
      }
      return total;
    },

    async close() {
      if (closed) return;
      closed = true;
      await db.close();
    },
  }, { path, readOnly: options.readOnly === true, ledger, release: opened.release, verifyChain });
  return log;
}

/** Asks LevelDB to rewrite the key range now, so deleted pages free disk space right away. */
async function compact(
  sub: { prefixKey(key: string, fmt: "utf8"): string; parent: unknown },
  from: string,
  to: string,
): Promise<void> {
  const root = sub.parent as { compactRange?: (a: string, b: string, o: object) => Promise<void> };
  if (typeof root.compactRange !== "function") return;
  await root.compactRange(sub.prefixKey(from, "utf8"), sub.prefixKey(to, "utf8"), {
    keyEncoding: "utf8",
  }).catch(() => undefined);
}
