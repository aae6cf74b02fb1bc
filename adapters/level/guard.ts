/**
 * The LevelDB log's outer shell: every error comes out with a ckpt code, a failed write makes every
 * later write refuse with the same code (sticky) until the store is closed and reopened, a
 * read-only view refuses writes, and a stage's ledger entry is forgotten before the stage is
 * deleted. After LevelDB fails a write its log may hold a partial record; writing on behind it is
 * how acknowledged writes were lost once space came back.
 */
import { CkptError, ErrorCode } from "../../core/errors.ts";
import type { EventLog } from "../../core/log.ts";
import { storageError } from "./errors.ts";
import type { Ledger } from "./ledger.ts";

export interface LevelExtras {
  /** The checksum chain check of one stage (`ckpt verify`): the first problem, or undefined. */
  verifyChain(stream: string): Promise<string | undefined>;
  /** The failure every write refuses with, once one failed. */
  readonly failure: CkptError | undefined;
  /** Makes writes refuse from now on (a failed ledger write). */
  fail(err: unknown): void;
}

interface Shell {
  path: string;
  readOnly: boolean;
  ledger: Ledger | undefined;
  release(): Promise<void>;
  verifyChain(stream: string): Promise<string | undefined>;
}

const STICKY: readonly string[] = [ErrorCode.IO, ErrorCode.NO_SPACE, ErrorCode.CORRUPT];

export function guardLog(inner: EventLog, o: Shell): EventLog & LevelExtras {
  let failure: CkptError | undefined;
  const fail = (err: unknown, what = "Writing") => {
    const e = storageError(o.path, what, err);
    if (!failure && STICKY.includes(e.code)) failure = e;
    return e;
  };
  const writable = () => {
    const refusal = refused();
    if (refusal) throw refusal;
  };
  const refused = (): CkptError | undefined => {
    if (o.readOnly) {
      return new CkptError(
        ErrorCode.INVALID,
        `The store at ${o.path} was opened read-only (a private view of its files); it cannot be written.`,
        { details: { path: o.path } },
      );
    }
    if (failure) {
      return new CkptError(
        failure.code,
        `Writes to the store at ${o.path} are refused since an earlier write failed (${failure.message}). ` +
          `Nothing acknowledged before it is lost. Free space if the disk is full, close the store and open it again.`,
        { cause: failure, details: { path: o.path } },
      );
    }
    return undefined;
  };
  const write = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    writable();
    try {
      return await f();
    } catch (err) {
      throw fail(err, what);
    }
  };
  const read = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (err) {
      throw storageError(o.path, what, err);
    }
  };
  async function* iterate<T>(what: string, it: AsyncIterable<T>): AsyncGenerator<T> {
    try {
      yield* it;
    } catch (err) {
      throw storageError(o.path, what, err);
    }
  }
  const log: EventLog & LevelExtras = {
    supports: inner.supports,
    location: inner.location,
    get failure() {
      return failure;
    },
    fail: (err) => void fail(err, "Writing the ledger"),
    verifyChain: (s) => read(`Checking "${s}"`, () => o.verifyChain(s)),
    // The hot path: no extra async frame, only a check and a catch.
    append: (s, events, opts) => {
      const refusal = refused();
      if (refusal) return Promise.reject(refusal);
      return inner.append(s, events, opts).catch((err: unknown) => {
        throw fail(err, `Appending to "${s}"`);
      });
    },
    saveSnapshot: (s, snap) =>
      write(`Saving the snapshot of "${s}"`, () => inner.saveSnapshot(s, snap)),
    truncateBefore: (s, rev, base, opts) =>
      write(`Truncating "${s}"`, () => inner.truncateBefore(s, rev, base, opts)),
    delete: (s, opts) =>
      write(`Deleting "${s}"`, async () => {
        await o.ledger?.forget(s);
        return inner.delete(s, opts);
      }),
    read: (s, opts) => iterate(`Reading "${s}"`, inner.read(s, opts)),
    ...(inner.readBatches
      ? {
        readBatches: (s: string, opts?: { from?: number }) =>
          iterate(`Reading "${s}"`, inner.readBatches!(s, opts)),
      }
      : {}),
    streams: (opts) => read("Listing stages", () => inner.streams(opts)),
    info: (s) => read(`Reading the head of "${s}"`, () => inner.info(s)),
    loadSnapshot: (s, which) =>
      read(`Loading the snapshot of "${s}"`, () => inner.loadSnapshot(s, which)),
    ...(inner.sizeBytes ? { sizeBytes: () => read("Measuring", () => inner.sizeBytes!()) } : {}),
    async close() {
      // A stale ledger is safe (it only says less than was written); a full disk must not stop the
      // close.
      await o.ledger?.close().catch(() => undefined);
      try {
        await inner.close();
      } finally {
        await o.release().catch(() => undefined);
      }
    },
  };
  return log;
}
