/**
 * The preallocated log's payloads: a small msgpack'd record of the operation (kind, stream,
 * revision, count, time, snapshot) and, for appends, the page of events after it, so recovery
 * rebuilds the index from the records alone and reads fetch only the page bytes. Pages of plain
 * successful items are the columns every page-storing adapter shares (adapters/item-columns.ts),
 * packed here with one shared packer behind a one-byte tag.
 */
import { Packr, Unpackr } from "msgpackr";
import type { CkptEvent } from "../../core/events.ts";
import type { Snapshot } from "../../core/log.ts";
import { fromColumns, toColumns } from "../item-columns.ts";

/**
 * a: append, s: save snapshot, t: truncate before `r`, d: delete; z: a stream's state as a space
 * reclaim copies it (first `r`, head `n`, latest `snap`, base `b`), after its pages.
 */
export interface Op {
  k: "a" | "s" | "t" | "d" | "z";
  s: string;
  /** Append: revision of the first event; truncate: the new first revision. */
  r?: number;
  /** Append: number of events; z: the head. */
  n?: number;
  /** Wall-clock ms of the operation. */
  t: number;
  /** Append or save: the snapshot; truncate: the base snapshot. */
  snap?: Snapshot;
  /** z: the base snapshot. */
  b?: Snapshot;
}

const meta = new Packr({ useRecords: false });
// copyBuffers: recovery decodes from a reused buffer (segments/window.ts); a snapshot keeps its bytes.
const unmeta = new Unpackr({ useRecords: false, copyBuffers: true });
// A fresh Packr per page: sequential records describe themselves, so each page decodes alone.
const packPage = (v: unknown) => new Packr({ useRecords: true, sequential: true }).pack(v);
// A page's first byte says how the rest is packed: events with self-describing records (a fresh
// packer each), or columns, two plain arrays, for which one shared packer will do.
const EVENTS = 0;
const COLUMNS = 1;
const tagged = (tag: number, bytes: Uint8Array) => {
  const out = new Uint8Array(1 + bytes.length);
  out[0] = tag;
  out.set(bytes, 1);
  return out;
};
const unpackPage = new Unpackr({ useRecords: true, sequential: true });

function encodePage(events: readonly CkptEvent[]): Uint8Array {
  const cols = toColumns(events);
  return cols ? tagged(COLUMNS, meta.pack(cols)) : tagged(EVENTS, packPage(events));
}

/** The events of a page (the bytes after the op record). */
export function decodePage(bytes: Uint8Array): CkptEvent[] {
  if (bytes[0] === EVENTS) return unpackPage.unpack(bytes.subarray(1)) as CkptEvent[];
  return fromColumns(bytes[0] === COLUMNS ? unmeta.unpack(bytes.subarray(1)) : undefined);
}

/** Payload: u32 length of the op record, the record, then the page (appends only). */
export function encodePayload(op: Op, events?: readonly CkptEvent[]): Uint8Array {
  return payloadOf(op, events ? encodePage(events) : undefined);
}

/** Payload of `op` with a page already encoded (a reclaim copies pages as they are). */
export function payloadOf(op: Op, page?: Uint8Array): Uint8Array {
  const head = meta.pack(op);
  const out = new Uint8Array(4 + head.length + (page?.length ?? 0));
  new DataView(out.buffer).setUint32(0, head.length, true);
  out.set(head, 4);
  if (page) out.set(page, 4 + head.length);
  return out;
}

/** The op record of a payload and where its page starts (relative to the payload). */
export function decodeOp(payload: Uint8Array): { op: Op; pageAt: number } {
  const v = new DataView(payload.buffer, payload.byteOffset, payload.length);
  const len = v.getUint32(0, true);
  if (4 + len > payload.length) throw new Error("op record runs past its frame");
  const op = unmeta.unpack(payload.subarray(4, 4 + len)) as Op;
  if (!op || typeof op.s !== "string" || !"astdz".includes(op.k)) throw new Error("bad op record");
  return { op, pageAt: 4 + len };
}
