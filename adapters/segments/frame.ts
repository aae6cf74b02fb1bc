/**
 * The preallocated log's frame: a 16-byte header [payload length, sequence, header CRC, payload
 * CRC] (u32 little-endian each, CRC-32C) and the payload. The header has its own checksum so a
 * length can be trusted before the payload is read: recovery tells a torn tail (garbage, then only
 * zeros) from damage in the middle (garbage, then more data) without guessing where frames begin.
 * An all-zero header is the clean end of a segment (segments are zero-filled before use).
 */
import { Buffer } from "node:buffer";
import { crc32c } from "../level/chain.ts";

export const HEADER = 16;

/** A frame for `payload`; `seal` fills in the sequence and header checksum at write time. */
export function frameOf(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER + payload.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, payload.length, true);
  v.setUint32(12, crc32c(payload), true);
  out.set(payload, HEADER);
  return out;
}

/** Stamps the frame's position in the log (its sequence number) and checksums the header. */
export function seal(frame: Uint8Array, seq: number): void {
  const v = new DataView(frame.buffer, frame.byteOffset, HEADER);
  v.setUint32(4, seq >>> 0, true);
  v.setUint32(8, crc32c(frame, 0, 8), true);
}

export type HeaderCheck =
  | { kind: "end" }
  | { kind: "bad" }
  | { kind: "ok"; length: number; seq: number; crc: number };

/** What the 16 bytes at `at` are: the clean end, a damaged/torn header, or a valid one. */
export function readHeader(bytes: Uint8Array, at: number): HeaderCheck {
  if (at + HEADER > bytes.length) return { kind: "end" };
  let zero = true;
  for (let i = at; i < at + HEADER; i++) {
    if (bytes[i] !== 0) {
      zero = false;
      break;
    }
  }
  if (zero) return { kind: "end" };
  const v = new DataView(bytes.buffer, bytes.byteOffset + at, HEADER);
  if (v.getUint32(8, true) !== crc32c(bytes, at, at + 8)) return { kind: "bad" };
  return {
    kind: "ok",
    length: v.getUint32(0, true),
    seq: v.getUint32(4, true),
    crc: v.getUint32(12, true),
  };
}

const ZEROS = new Uint8Array(64 << 10);

/** True when `bytes[from, to)` holds nothing but zeros (never written since preallocation). */
export function allZero(bytes: Uint8Array, from: number, to = bytes.length): boolean {
  // Compared a chunk at a time against zeros (native memcmp): recovery checks whole segments.
  for (let at = from; at < to; at += ZEROS.length) {
    const n = Math.min(ZEROS.length, to - at);
    if (Buffer.compare(bytes.subarray(at, at + n), ZEROS.subarray(0, n)) !== 0) return false;
  }
  return true;
}
