/**
 * The preallocated log's files: numbered segments of a fixed size, zero-filled and fsynced before
 * first use, so an append overwrites blocks that already exist and an `O_DSYNC` write needs no
 * metadata update (no size change, no extent conversion): one syscall is the write and its
 * fdatasync. A segment is prepared under a temporary name and renamed into place, so a crash never
 * leaves a half-zeroed segment that looks usable.
 */
import fs from "node:fs";
import { join } from "node:path";

const CHUNK = 1 << 20;

export const segmentName = (n: number) => `${String(n).padStart(8, "0")}.seg`;

/** Segment numbers present in `dir`, ascending; leftover temporaries from a crash are removed. */
export function listSegments(dir: string): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync(dir)) {
    if (name.endsWith(".seg.tmp")) fs.rmSync(join(dir, name), { force: true });
    else if (/^\d{8}\.seg$/.test(name)) out.push(Number(name.slice(0, 8)));
  }
  return out.sort((a, b) => a - b);
}

function fsyncDir(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.open(dir, "r", (err, fd) => {
      if (err) return reject(err);
      fs.fsync(fd, (e) => fs.close(fd, () => (e ? reject(e) : resolve())));
    });
  });
}

/** Writes `buf` at `pos` completely (a short write continues where it stopped). */
export function pwrite(fd: number, buf: Uint8Array, pos: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = 0;
    const step = () =>
      fs.write(fd, buf, done, buf.length - done, pos + done, (err, n) => {
        if (err) return reject(err);
        done += n;
        if (done < buf.length) step();
        else resolve();
      });
    step();
  });
}

/** `pwrite` on the calling thread. */
export function writeAllSync(fd: number, buf: Uint8Array, pos: number): void {
  for (let done = 0; done < buf.length;) {
    done += fs.writeSync(fd, buf, done, buf.length - done, pos + done);
  }
}

/** Reads `length` bytes at `pos` (fewer only at the end of the file). */
export function pread(fd: number, length: number, pos: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const buf = new Uint8Array(length);
    let done = 0;
    const step = () =>
      fs.read(fd, buf, done, length - done, pos + done, (err, n) => {
        if (err) return reject(err);
        done += n;
        if (n > 0 && done < length) step();
        else resolve(done === length ? buf : buf.subarray(0, done));
      });
    step();
  });
}

/** Creates segment `n` of `size` zero bytes, durably (data, then the name in the folder). */
export async function prepareSegment(dir: string, n: number, size: number): Promise<void> {
  const tmp = join(dir, segmentName(n) + ".tmp");
  const fd = fs.openSync(tmp, "w");
  try {
    const zeros = new Uint8Array(Math.min(CHUNK, size));
    for (let pos = 0; pos < size; pos += zeros.length) {
      await pwrite(fd, zeros.subarray(0, Math.min(zeros.length, size - pos)), pos);
    }
    await new Promise<void>((res, rej) => fs.fsync(fd, (e) => (e ? rej(e) : res())));
  } catch (err) {
    // A full disk: give back what the half-made segment took.
    fs.rmSync(tmp, { force: true });
    throw err;
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, join(dir, segmentName(n)));
  await fsyncDir(dir);
}

/**
 * Opens segment `n` for positional writes that return only once the data is on disk (`O_DSYNC`),
 * and positional reads.
 */
export function openSegment(dir: string, n: number): number {
  return fs.openSync(join(dir, segmentName(n)), fs.constants.O_RDWR | fs.constants.O_DSYNC);
}
