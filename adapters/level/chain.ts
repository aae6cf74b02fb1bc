/**
 * ckpt's own record of what it wrote, beside LevelDB's checksums: each event page carries the chain value of the
 * pages before it, and the stream's head carries the chain after its last page, so `verify` can tell a page that
 * still decodes but is not what was written. Framing: 0xC1 (a byte msgpack never starts with), 8 bytes of the
 * previous chain, then the msgpack'd page. Unframed pages (written before the chain) still read; they are unchecked.
 */
import { createHash } from "node:crypto";

const MARK = 0xc1;
const LINK = 8;
export const NO_CHAIN = "0000000000000000";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string) => Uint8Array.from(s.match(/../g)!, (h) => parseInt(h, 16));

/** The chain after a page: the first 8 bytes of SHA-256(previous chain ‖ page). */
export function nextChain(prev: string, payload: Uint8Array): string {
  return hex(createHash("sha256").update(unhex(prev)).update(payload).digest().subarray(0, LINK));
}

/** The stored value of a page: its payload framed with the chain before it. */
export function frame(prev: string, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + LINK + payload.length);
  out[0] = MARK;
  out.set(unhex(prev), 1);
  out.set(payload, 1 + LINK);
  return out;
}

/** A stored page split into the chain before it (undefined for an unframed page) and its payload. */
export function unframe(value: Uint8Array): { prev: string | undefined; payload: Uint8Array } {
  if (value[0] !== MARK || value.length < 1 + LINK) return { prev: undefined, payload: value };
  return { prev: hex(value.subarray(1, 1 + LINK)), payload: value.subarray(1 + LINK) };
}
