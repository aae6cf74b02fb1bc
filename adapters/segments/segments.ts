/**
 * The segment log's files: numbered segments of a fixed size, zero-filled and fsynced before first
 * use, so an append overwrites blocks that already exist and an `O_DSYNC` write needs no metadata
 * update (no size change, no extent conversion): one syscall is the write and its fdatasync. A
 * segment is prepared under a temporary name and renamed into place, so a crash never leaves a
 * half-zeroed segment that looks usable. Segments belong to a generation (`<gen>-<n>.seg`): space
 * is reclaimed by writing the live state into the next generation (adapters/segments/folder.ts
 * says which one is current).
 */
import fs from "node:fs";
import { join } from "node:path";

const CHUNK = 1 << 20;

const pad = (n: number, width: number) => String(n).padStart(width, "0");
export const segmentName = (gen: number, n: number) => `${pad(gen, 6)}-${pad(n, 8)}.seg`;
const SEGMENT = /^(\d{6})-(\d{8})\.seg$/;

export interface SegmentFile {
  gen: number;
  n: number;
}

/** Segment files in `dir` (every generation), by generation then number. */
export function listSegments(dir: string): SegmentFile[] {
  const out: SegmentFile[] = [];
  for (const name of fs.readdirSync(dir)) {
    const m = SEGMENT.exec(name);
    if (m) out.push({ gen: Number(m[1]), n: Number(m[2]) });
  }
  return out.sort((a, b) => a.gen - b.gen || a.n - b.n);
}

/** Removes segments of other generations than `gen` and temporaries left by a crash. */
export function removeStale(dir: string, gen: number): void {
  for (const name of fs.readdirSync(dir)) {
    const m = SEGMENT.exec(name);
    if (name.endsWith(".seg.tmp") || (m && Number(m[1]) !== gen)) {
      fs.rmSync(join(dir, name), { force: true });
    }
  }
}

export function fsyncDir(dir: string): Promise<void> {
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

/** The whole file behind `fd`. */
export function readAll(fd: number): Uint8Array {
  const size = fs.fstatSync(fd).size;
  const buf = new Uint8Array(size);
  let done = 0;
  while (done < size) {
    const n = fs.readSync(fd, buf, done, size - done, done);
    if (n === 0) break;
    done += n;
  }
  return done === size ? buf : buf.subarray(0, done);
}

/** Creates segment `n` of generation `gen`, `size` zero bytes, durably (data, then its name). */
export async function prepareSegment(
  dir: string,
  gen: number,
  n: number,
  size: number,
): Promise<void> {
  const tmp = join(dir, segmentName(gen, n) + ".tmp");
  const fd = fs.openSync(tmp, "w");
  try {
    const zeros = new Uint8Array(Math.min(CHUNK, size));
    for (let pos = 0; pos < size; pos += zeros.length) {
      await pwrite(fd, zeros.subarray(0, Math.min(zeros.length, size - pos)), pos);
    }
    await new Promise<void>((res, rej) => fs.fsync(fd, (e) => (e ? rej(e) : res())));
  } catch (err) {
    // A full disk: give back what the half-made segment took.
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, join(dir, segmentName(gen, n)));
  await fsyncDir(dir);
}

/**
 * Opens segment `n` of `gen` for positional writes that return only once the data is on disk
 * (`O_DSYNC`) and positional reads, or for reads only.
 */
export function openSegment(dir: string, gen: number, n: number, readOnly = false): number {
  return fs.openSync(
    join(dir, segmentName(gen, n)),
    readOnly ? fs.constants.O_RDONLY : fs.constants.O_RDWR | fs.constants.O_DSYNC,
  );
}
