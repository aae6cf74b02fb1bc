/**
 * Recovery on open: walks the current generation's segments frame by frame, in sequence order, and
 * hands each valid frame to the caller to rebuild the in-memory index. The first invalid frame ends
 * the log when nothing follows it (a write torn by a crash: a writer zeroes its bytes so later
 * appends start clean; a reader just stops there); anything written after it (more bytes in the
 * segment, frames in a later segment) means the bad frame is damage in the middle, which is
 * CKPT_CORRUPT: acknowledged events are never cut silently. Likewise bytes after a segment's clean
 * end (an all-zero header): a lost sector, not an end. `scan` reports the damage instead of
 * throwing, for repair (adapters/segments/repair.ts), which cuts the log there.
 */
import fs from "node:fs";
import { CkptError, ErrorCode } from "../../core/errors.ts";
import { crc32c } from "../level/chain.ts";
import { allZero, HEADER, readHeader } from "./frame.ts";
import { segmentName, writeAllSync } from "./segments.ts";
import { SegmentWindow } from "./window.ts";

/** Where the next frame goes, and its sequence number. */
export interface Position {
  seg: number;
  pos: number;
  seq: number;
}

export interface Damage {
  /** Segment number and byte offset of the first frame that is not valid. */
  seg: number;
  at: number;
  /** Where the torn frame ends (the bytes a writer zeroes), when `torn`. */
  end: number;
  why: string;
  /** Nothing follows it: the last write, torn by a crash (or still under way, for a reader). */
  torn: boolean;
}

/** `payload` is a view of a reused buffer: valid during the call only (copy what you keep). */
export type OnFrame = (seg: number, payloadAt: number, payload: Uint8Array) => void;

/**
 * Walks `segments` (ascending numbers of one generation, read through `fds`) up to the first frame
 * that is not valid; see the header comment.
 */
export function scan(
  segments: number[],
  fds: Map<number, number>,
  onFrame: OnFrame,
  /** Read each segment in one go (a reader beside a live writer): see SegmentWindow.use. */
  wholeSegments = false,
): Position & { damage?: Damage } {
  let seq = 1;
  const laterHasData = (k: number) =>
    segments.slice(k + 1).some((n) => {
      const head = new Uint8Array(HEADER);
      fs.readSync(fds.get(n)!, head, 0, HEADER, 0);
      return !allZero(head, 0);
    });
  const w = new SegmentWindow();
  for (let k = 0; k < segments.length; k++) {
    const n = segments[k]!;
    w.use(fds.get(n)!, wholeSegments);
    let at = 0;
    const stop = (why: string, end: number, torn: boolean) => ({
      seg: n,
      pos: at,
      seq,
      damage: { seg: n, at, end, why, torn },
    });
    for (;;) {
      const head = w.bytes(at, HEADER);
      const h = head ? readHeader(head, 0) : { kind: "end" as const };
      if (h.kind === "end") break;
      const fits = h.kind === "ok" && at + HEADER + h.length <= w.size;
      if (fits) {
        const frame = w.bytes(at, HEADER + h.length);
        if (frame && crc32c(frame, HEADER, HEADER + h.length) === h.crc) {
          if (h.seq !== seq >>> 0) {
            // Whole and checked, but not the frame due: frames before it were lost (say the last
            // of the previous segment). A torn write never leaves a whole frame, so this is damage.
            return stop(`frame ${h.seq} where ${seq} was due`, at + HEADER + h.length, false);
          }
          try {
            onFrame(n, at + HEADER, frame.subarray(HEADER));
          } catch (e) {
            return stop(`a frame that does not decode (${(e as Error).message})`, at, false);
          }
          seq++;
          at += HEADER + h.length;
          continue;
        }
      }
      // A torn write leaves a prefix of one frame and zeros after it; trust the length only when
      // the header checked out.
      const end = fits ? at + HEADER + h.length : Math.min(at + HEADER, w.size);
      const why = h.kind === "bad"
        ? "a frame header fails its checksum"
        : h.seq !== seq >>> 0
        ? `frame ${h.seq} where ${seq} was due`
        : "a frame fails its checksum";
      return stop(why, end, w.zeroFrom(end) && !laterHasData(k));
    }
    // Past the clean end nothing was ever written: data there means a frame's header was lost.
    if (!w.zeroFrom(at)) return stop("a zeroed frame header", at, false);
    if (at === 0 || k === segments.length - 1) {
      if (laterHasData(k)) return stop("the log ends early", at, false);
      return { seg: n, pos: at, seq };
    }
  }
  throw new Error("recover: no segments");
}

export function corruptAt(dir: string, gen: number, d: Damage): CkptError {
  return new CkptError(
    ErrorCode.CORRUPT,
    `The segment log at ${dir} is damaged: ${d.why} at byte ${d.at} of segment ${
      segmentName(gen, d.seg)
    }, and data follows it. Nothing was changed. ` +
      `Keep a copy of the folder, then run \`ckpt verify --repair --store ${dir}\` to recover what can be recovered.`,
    { details: { path: dir, segment: segmentName(gen, d.seg), offset: d.at } },
  );
}

/**
 * `scan`, then: damage in the middle is CKPT_CORRUPT; a torn tail is the end (zeroed unless
 * `readOnly`).
 */
export function recover(
  dir: string,
  gen: number,
  segments: number[],
  fds: Map<number, number>,
  onFrame: OnFrame,
  readOnly: boolean,
): Position {
  const r = scan(segments, fds, onFrame, readOnly);
  if (!r.damage) return r;
  if (!r.damage.torn) throw corruptAt(dir, gen, r.damage);
  const { seg, at, end } = r.damage;
  if (!readOnly) writeAllSync(fds.get(seg)!, new Uint8Array(end - at), at);
  return { seg: r.seg, pos: r.pos, seq: r.seq };
}
