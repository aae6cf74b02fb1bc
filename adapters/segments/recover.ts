/**
 * Recovery on open: walks every segment frame by frame, in sequence order, and hands each valid
 * frame to the caller to rebuild the in-memory index. The first invalid frame ends the log when
 * nothing follows it (a write torn by a crash: its bytes are zeroed so later appends start clean);
 * anything written after it (more bytes in the segment, frames in a later segment) means the bad
 * frame is damage in the middle, which is CKPT_CORRUPT: acknowledged events are never cut silently.
 * Likewise bytes after a segment's clean end (an all-zero header): a lost sector, not an end.
 */
import fs from "node:fs";
import { join } from "node:path";
import { CkptError, ErrorCode } from "../../core/errors.ts";
import { crc32c } from "../level/chain.ts";
import { allZero, HEADER, readHeader } from "./frame.ts";
import { segmentName } from "./segments.ts";

/** Where the next frame goes, and its sequence number. */
export interface Position {
  seg: number;
  pos: number;
  seq: number;
}

export type OnFrame = (seg: number, payloadAt: number, payload: Uint8Array) => void;

const corrupt = (dir: string, seg: number, at: number, why: string) =>
  new CkptError(
    ErrorCode.CORRUPT,
    `The preallocated log at ${dir} is damaged: ${why} at byte ${at} of segment ${
      segmentName(seg)
    }, and data follows it. Nothing was changed.`,
    { details: { path: dir, segment: segmentName(seg), offset: at } },
  );

/** Scans `segments` (ascending) through their open descriptors `fds`; see the header comment. */
export function recover(
  dir: string,
  segments: number[],
  fds: Map<number, number>,
  onFrame: OnFrame,
): Position {
  let seq = 1;
  const laterHasData = (k: number) =>
    segments.slice(k + 1).some((n) => {
      const head = new Uint8Array(HEADER);
      fs.readSync(fds.get(n)!, head, 0, HEADER, 0);
      return !allZero(head, 0);
    });
  for (let k = 0; k < segments.length; k++) {
    const n = segments[k]!;
    const bytes = new Uint8Array(fs.readFileSync(join(dir, segmentName(n))));
    let at = 0;
    for (;;) {
      const h = readHeader(bytes, at);
      if (h.kind === "end") break;
      const fits = h.kind === "ok" && at + HEADER + h.length <= bytes.length;
      if (
        fits && h.seq === seq >>> 0 &&
        crc32c(bytes, at + HEADER, at + HEADER + h.length) === h.crc
      ) {
        try {
          onFrame(n, at + HEADER, bytes.subarray(at + HEADER, at + HEADER + h.length));
        } catch (e) {
          throw corrupt(dir, n, at, `a frame that does not decode (${(e as Error).message})`);
        }
        seq++;
        at += HEADER + h.length;
        continue;
      }
      // A torn write leaves a prefix of one frame and zeros after it; trust the length only when
      // the header checked out.
      const end = fits ? at + HEADER + h.length : Math.min(at + HEADER, bytes.length);
      if (!allZero(bytes, end) || laterHasData(k)) {
        throw corrupt(
          dir,
          n,
          at,
          h.kind === "bad"
            ? "a frame header fails its checksum"
            : h.seq !== seq >>> 0
            ? `frame ${h.seq} where ${seq} was due`
            : "a frame fails its checksum",
        );
      }
      fs.writeSync(fds.get(n)!, new Uint8Array(end - at), 0, end - at, at);
      return { seg: n, pos: at, seq };
    }
    // Past the clean end nothing was ever written: data there means a frame's header was lost.
    if (!allZero(bytes, at)) throw corrupt(dir, n, at, "a zeroed frame header");
    if (at === 0 || k === segments.length - 1) {
      if (laterHasData(k)) throw corrupt(dir, n, at, "the log ends early");
      return { seg: n, pos: at, seq };
    }
  }
  throw new Error("recover: no segments");
}
