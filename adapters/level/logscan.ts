/**
 * Checks LevelDB's log files (the write-ahead `NNNNNN.log` and the `MANIFEST-NNNNNN`) record by
 * record before the store is opened. The binding offers no paranoid checks, and without them
 * LevelDB skips a damaged stretch of its log with a line in its LOG file and deletes the log on
 * open — acknowledged writes gone, evidence gone. Format: 32 KiB blocks of records, each `crc32c(4,
 * masked) length(2) type(1) data` (leveldb/doc/log_format.md).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { crc32c } from "./chain.ts";

const BLOCK = 32768;
const HEADER = 7;
const FULL = 1;
const FIRST = 2;
const MIDDLE = 3;
const LAST = 4;

const unmask = (m: number) => {
  const rot = (m - 0xa282ead8) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
};

export interface LogDamage {
  file: string;
  offset: number;
  problem: string;
  /**
   * The last intact write before the damage, when the file is the write-ahead log: which stage and
   * revision.
   */
  lastIntact?: { stage: string; revision: number };
}

const allZero = (b: Uint8Array, from: number) => {
  for (let i = from; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
};

/**
 * The first damaged record of one log file, or undefined. A record cut off by the end of the file
 * is the write that was in flight when a process died or the disk filled (never acknowledged), and
 * zeros to the end are space the file system allocated but never filled: both are a normal tail,
 * not damage.
 */
export function scanLog(
  file: string,
  bytes: Uint8Array,
  onRecord?: (data: Uint8Array) => void,
): LogDamage | undefined {
  let off = 0;
  let fragments: Uint8Array[] | undefined;
  const damage = (offset: number, problem: string): LogDamage => ({ file, offset, problem });
  while (off < bytes.length) {
    const blockEnd = Math.min(bytes.length, (Math.floor(off / BLOCK) + 1) * BLOCK);
    if (blockEnd - off < HEADER) {
      // A block trailer: LevelDB pads with zeros.
      if (!allZero(bytes.subarray(0, blockEnd), off)) {
        return damage(off, "non-zero bytes in a block trailer");
      }
      off = blockEnd;
      continue;
    }
    const length = bytes[off + 4]! | (bytes[off + 5]! << 8);
    const type = bytes[off + 6]!;
    if (
      type === 0 && length === 0 && bytes[off] === 0 && bytes[off + 1] === 0 &&
      bytes[off + 2] === 0 && bytes[off + 3] === 0
    ) {
      if (allZero(bytes, off)) return undefined;
      return damage(off, "a zeroed stretch with data after it");
    }
    if (off + HEADER + length > blockEnd) {
      if (blockEnd === bytes.length) return undefined; // cut off by the end of the file
      return damage(off, `a record length (${length}) that runs past its block`);
    }
    const want = unmask(
      (bytes[off]! | (bytes[off + 1]! << 8) | (bytes[off + 2]! << 16) | (bytes[off + 3]! << 24)) >>>
        0,
    );
    if (crc32c(bytes, off + 6, off + HEADER + length) !== want) {
      return damage(off, "a checksum mismatch");
    }
    const data = bytes.subarray(off + HEADER, off + HEADER + length);
    if (type === FULL) {
      if (fragments) return damage(off, "a fragmented record without its end");
      onRecord?.(data);
    } else if (type === FIRST) {
      if (fragments) return damage(off, "a fragmented record without its end");
      fragments = [data];
    } else if (type === MIDDLE || type === LAST) {
      if (!fragments) return damage(off, "the middle of a record without its start");
      fragments.push(data);
      if (type === LAST) {
        const whole = new Uint8Array(fragments.reduce((a, f) => a + f.length, 0));
        let at = 0;
        for (const f of fragments) (whole.set(f, at), (at += f.length));
        fragments = undefined;
        onRecord?.(whole);
      }
    } else {
      return damage(off, `an unknown record type ${type}`);
    }
    off += HEADER + length;
  }
  return undefined;
}

/**
 * The last event page a write-ahead-log record (a LevelDB WriteBatch) put: `!e!<stage>\0<revision
 * hex>`.
 */
function lastPageIn(batch: Uint8Array): { stage: string; revision: number } | undefined {
  let off = 12;
  let found: { stage: string; revision: number } | undefined;
  const varint = () => {
    let v = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = batch[off++];
      if (b === undefined) throw new Error("truncated");
      v |= (b & 0x7f) << shift;
      if (!(b & 0x80)) return v >>> 0;
    }
    throw new Error("bad varint");
  };
  try {
    while (off < batch.length) {
      const tag = batch[off++];
      const klen = varint();
      const key = new TextDecoder().decode(batch.subarray(off, off + klen));
      off += klen;
      if (tag === 1) off += varint(); // a put carries a value after its key; a delete does not
      const m = /^!e!(.*)\x00([0-9a-f]{12})$/s.exec(key);
      if (m) found = { stage: m[1]!, revision: parseInt(m[2]!, 16) };
    }
  } catch {
    // A batch we cannot walk names nothing; the damage report still names the file and offset.
  }
  return found;
}

/**
 * The first damage in the store's log files (write-ahead logs and the MANIFEST), or undefined.
 * Reads only.
 */
export async function scanLogs(
  path: string,
  files: readonly string[],
): Promise<LogDamage | undefined> {
  for (const name of files.filter((n) => /^(\d+\.log|MANIFEST-\d+)$/.test(n)).sort()) {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(join(path, name));
    } catch (err) {
      if ((err as { code?: string }).code === "ENOENT") continue;
      throw err;
    }
    let last: { stage: string; revision: number } | undefined;
    const wal = name.endsWith(".log");
    const d = scanLog(name, bytes, wal ? (rec) => (last = lastPageIn(rec) ?? last) : undefined);
    if (d) return last ? { ...d, lastIntact: last } : d;
  }
  return undefined;
}
