/**
 * Figure 6a: bytes on disk per event: the LevelDB folder as written, and after LevelDB compacts it.
 */
import { Level } from "level";
import type { History } from "./history.ts";
import { du } from "./tmp.ts";

export interface DiskResult {
  events: number;
  bytes: number;
  bytesPerEvent: number;
  compactedBytes?: number;
  compactedPerEvent?: number;
}

export function diskAsWritten(h: History): DiskResult {
  const bytes = du(h.dir);
  return { events: h.events, bytes, bytesPerEvent: bytes / h.events };
}

/**
 * Compacts the whole folder (stale snapshots and the write-ahead log folded away) and measures
 * again.
 */
export async function diskCompacted(h: History, asWritten: DiskResult): Promise<DiskResult> {
  const db = new Level<string, Uint8Array>(h.dir, { keyEncoding: "utf8", valueEncoding: "view" });
  await db.open();
  await (db as unknown as { compactRange(a: string, b: string): Promise<void> }).compactRange(
    "\x00",
    "\uffff",
  );
  await db.close();
  const bytes = du(h.dir);
  return { ...asWritten, compactedBytes: bytes, compactedPerEvent: bytes / h.events };
}
