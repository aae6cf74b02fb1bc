/**
 * ckpt's own record of what it wrote, beside LevelDB's checksums: each event page carries the chain
 * value of the pages before it, and the stream's head carries the chain after its last page, so
 * `verify` can tell a page that still decodes but is not what was written. Framing: 0xC1 (a byte
 * msgpack never starts with), 8 bytes of the previous chain, then the msgpack'd page. Unframed
 * pages (written before the chain) still read; they are unchecked.
 */
const MARK = 0xc1;
const LINK = 8;
export const NO_CHAIN = "0000000000000000";

const CRC32C = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli, LevelDB's own checksum) of `bytes[from, to)`, continuing from `crc`. */
export function crc32c(bytes: Uint8Array, from = 0, to = bytes.length, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = from; i < to; i++) c = CRC32C[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

const hex8 = (n: number) => n.toString(16).padStart(8, "0");

/**
 * The chain after a page: two independent 32-bit checksums (CRC-32C and FNV-1a) of the page, each
 * seeded with its half of the previous chain. Damage, not an adversary, is what it guards against;
 * it runs once per append, so it is a plain loop over a few dozen bytes rather than a cryptographic
 * hash (SHA-256 cost several µs per append).
 */
export function nextChain(prev: string, payload: Uint8Array): string {
  const a = crc32c(payload, 0, payload.length, parseInt(prev.slice(0, 8), 16));
  let b = parseInt(prev.slice(8, 16), 16) ^ 0x811c9dc5;
  for (let i = 0; i < payload.length; i++) b = Math.imul(b ^ payload[i]!, 0x01000193);
  return hex8(a) + hex8(b >>> 0);
}

/** The stored value of a page: its payload framed with the chain before it. */
export function frame(prev: string, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + LINK + payload.length);
  out[0] = MARK;
  for (let i = 0; i < LINK; i++) out[1 + i] = parseInt(prev.slice(2 * i, 2 * i + 2), 16);
  out.set(payload, 1 + LINK);
  return out;
}

/**
 * A stored page split into the chain before it (undefined for an unframed page) and its payload.
 */
export function unframe(value: Uint8Array): { prev: string | undefined; payload: Uint8Array } {
  if (value[0] !== MARK || value.length < 1 + LINK) return { prev: undefined, payload: value };
  let prev = "";
  for (let i = 1; i <= LINK; i++) prev += value[i]!.toString(16).padStart(2, "0");
  return { prev, payload: value.subarray(1 + LINK) };
}
