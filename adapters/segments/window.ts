/**
 * Reads a segment file through one reused buffer, a window at a time, for recovery. Reading a whole
 * segment into a fresh 16 MiB array made every open pay for the zero-filled, never-written part
 * of it and, worse on a VM, fault in 4,096 new pages per segment (10–100 ms per open measured:
 * bench/segments-open.ts). The window is reused across segments, so an open touches the same
 * memory however long the log is. A read-only open, which a live writer may race, reads each
 * segment whole instead (`use(fd, true)`).
 */
import fs from "node:fs";
import { allZero } from "./frame.ts";

/** Bytes read at once; a frame larger than this grows the buffer to fit it. */
const WINDOW = 1 << 20;

export class SegmentWindow {
  private buf = new Uint8Array(WINDOW);
  /** File offset of buf[0], and how many bytes of buf are loaded. */
  private base = 0;
  private loaded = 0;
  private fd = -1;
  /** The file's size in bytes. */
  size = 0;

  /**
   * Points the window at another segment file. `whole` reads all of it at once and never again:
   * a reader beside a live writer must judge one copy of the file, or a frame appended between two
   * window reads looks like data past the end (damage).
   */
  use(fd: number, whole = false): void {
    this.fd = fd;
    this.size = fs.fstatSync(fd).size;
    this.base = 0;
    this.loaded = 0;
    if (whole) this.bytes(0, this.size);
  }

  /**
   * The bytes `[at, at + n)` of the file, as a view valid until the next call (the buffer is
   * reused); undefined when the file ends before `at + n`.
   */
  bytes(at: number, n: number): Uint8Array | undefined {
    if (at + n > this.size) return undefined;
    if (at < this.base || at + n > this.base + this.loaded) {
      if (n > this.buf.length) this.buf = new Uint8Array(n);
      const want = Math.min(this.buf.length, this.size - at);
      let done = 0;
      while (done < want) {
        const got = fs.readSync(this.fd, this.buf, done, want - done, at + done);
        if (got === 0) break;
        done += got;
      }
      this.base = at;
      this.loaded = done;
      if (done < n) return undefined; // the file shrank under us
    }
    return this.buf.subarray(at - this.base, at - this.base + n);
  }

  /** True when the file holds only zeros from `from` to its end. */
  zeroFrom(from: number): boolean {
    for (let at = from; at < this.size; at += WINDOW) {
      const chunk = this.bytes(at, Math.min(WINDOW, this.size - at));
      if (!chunk || !allZero(chunk, 0)) return false;
    }
    return true;
  }
}
