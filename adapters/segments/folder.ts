/**
 * A segment log's folder: the `SEGMENTS` marker (format name, format version and the current
 * generation) says what the folder is, the writer's lock says who may write it.
 *
 * The marker is JSON, replaced only whole (written to `SEGMENTS.tmp`, fsynced, renamed, folder
 * fsynced): creating the log writes it before the first segment, and a space reclaim switches to
 * the new generation by replacing it, so a crash leaves either generation whole and named.
 *
 * The lock is LevelDB's (a tiny database in `<folder>/lock/`): an fcntl lock the kernel drops when
 * the process dies, SIGKILL included, that holds across processes (and containers) on one kernel,
 * plus LevelDB's own table for a second open within the process. Node has no flock of its own, and
 * a PID file cannot tell a live holder from a reused PID (or one in another PID namespace).
 */
import fs from "node:fs";
import { join } from "node:path";
import { Level } from "level";
import { CkptError, ErrorCode } from "../../core/errors.ts";
import { storageError } from "../level/errors.ts";
import { fsyncDir, listSegments } from "./segments.ts";

export const MARKER = "SEGMENTS";
export const FORMAT = "ckpt-segments";
export const VERSION = 1;
const LOCK = "lock";

export interface Marker {
  format: typeof FORMAT;
  version: number;
  /** The generation whose segments hold the log (others are leftovers of a reclaim). */
  generation: number;
}

/** Entries of a folder that may become a segment log (left by an open that stopped early). */
const isFresh = (name: string) =>
  name === LOCK || name === MARKER + ".tmp" || name.startsWith("damaged-") ||
  name.endsWith(".seg.tmp");

/**
 * "absent" (no folder) and "empty" may become a segment log; "log" has a marker, returned. A folder
 * of segments without a marker is CKPT_CORRUPT; anything else (a LevelDB store, other files) is
 * CKPT_INVALID. Reads only.
 */
export function inspectFolder(
  path: string,
): { kind: "absent" | "empty" } | { kind: "log"; marker: Marker } {
  let names: string[];
  try {
    if (!fs.statSync(path).isDirectory()) {
      throw new CkptError(ErrorCode.INVALID, `${path} is a file, not a store folder.`, {
        details: { path },
      });
    }
    names = fs.readdirSync(path);
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") return { kind: "absent" };
    if (err instanceof CkptError) throw err;
    throw new CkptError(
      ErrorCode.IO,
      `Cannot read the store folder ${path}: ${(err as Error).message}`,
      { cause: err, details: { path } },
    );
  }
  if (names.includes(MARKER)) return { kind: "log", marker: readMarker(path) };
  if (listSegments(path).length > 0) {
    throw new CkptError(
      ErrorCode.CORRUPT,
      `The segment log at ${path} has lost its ${MARKER} file (its segments are still there). Nothing was changed. ` +
        `Run \`ckpt verify --repair --store ${path}\` to write it again.`,
      { details: { path } },
    );
  }
  const others = names.filter((n) => !isFresh(n));
  if (others.length > 0) {
    const what = names.includes("CURRENT") ? "a LevelDB store" : "not a segment log";
    throw new CkptError(
      ErrorCode.INVALID,
      `${path} holds other files (${others.slice(0, 3).join(", ")}${
        others.length > 3 ? ", …" : ""
      }), ${what}. Point the segment log at a new or empty folder.`,
      { details: { path } },
    );
  }
  return { kind: "empty" };
}

/** The marker of the segment log at `path`; CKPT_INVALID for another format or a newer version. */
export function readMarker(path: string): Marker {
  let m: Partial<Marker> | undefined;
  try {
    m = JSON.parse(fs.readFileSync(join(path, MARKER), "utf8"));
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") throw err;
    throw new CkptError(
      ErrorCode.CORRUPT,
      `The ${MARKER} file of ${path} does not read (${
        (err as Error).message
      }). Nothing was changed. ` +
        `Run \`ckpt verify --repair --store ${path}\` to write it again.`,
      { cause: err, details: { path } },
    );
  }
  if (m?.format !== FORMAT) {
    throw new CkptError(
      ErrorCode.INVALID,
      `${path} holds a ${MARKER} file that is not a ckpt segment log's (format ${
        JSON.stringify(m?.format)
      }).`,
      { details: { path } },
    );
  }
  if (typeof m.version !== "number" || m.version > VERSION) {
    throw new CkptError(
      ErrorCode.INVALID,
      `The segment log at ${path} is format version ${m.version}, newer than this ckpt reads (${VERSION}). Upgrade ckpt to open it.`,
      { details: { path, version: m.version } },
    );
  }
  if (!Number.isInteger(m.generation) || m.generation! < 1) {
    throw new CkptError(
      ErrorCode.CORRUPT,
      `The ${MARKER} file of ${path} names no generation. Nothing was changed. ` +
        `Run \`ckpt verify --repair --store ${path}\` to write it again.`,
      { details: { path } },
    );
  }
  return m as Marker;
}

/** Replaces the marker durably: a crash leaves the old one or the new one. */
export async function writeMarker(
  path: string,
  generation: number,
  /** Called once the new marker has replaced the old one (before the folder's fsync). */
  onRenamed?: () => void,
): Promise<void> {
  const tmp = join(path, MARKER + ".tmp");
  const marker: Marker = { format: FORMAT, version: VERSION, generation };
  const fd = fs.openSync(tmp, "w");
  try {
    fs.writeSync(fd, JSON.stringify(marker) + "\n");
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, join(path, MARKER));
  onRenamed?.();
  await fsyncDir(path);
}

export interface Lock {
  release(): Promise<void>;
}

/** The writer's lock on `path`: CKPT_LOCKED while another process (or open) holds it. */
export async function takeLock(path: string): Promise<Lock> {
  const dir = join(path, LOCK);
  for (let attempt = 0;; attempt++) {
    const db = new Level<string, string>(dir);
    try {
      await db.open({ createIfMissing: true });
      return { release: () => db.close() };
    } catch (err) {
      const e = storageError(path, "Taking the lock of", err);
      if (e.code === ErrorCode.LOCKED) throw lockedError(path, err);
      // The lock's database holds nothing: a damaged one is rebuilt (once), nobody holding it.
      if (attempt > 0) throw e;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

export const lockedError = (path: string, cause: unknown) =>
  new CkptError(
    ErrorCode.LOCKED,
    `The store at ${path} is open in another process (a segment log allows one writer). To share it between processes, run \`npx ckpt-server --store ${path}\` and open({ url }) from each worker.`,
    { cause, details: { path } },
  );
