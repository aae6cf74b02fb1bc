/**
 * The store the crash tests kill and reopen, on the adapter a test names: LevelDB (the default) or
 * the preallocated-log experiment (adapters/segments.ts), its writes on the
 * threadpool or blocking.
 */
import { segmentLog } from "../../adapters/segments.ts";
import { open, type Store } from "../../mod.ts";

export type CrashAdapter = "level" | "segments" | "segments-blocking";

export async function openStore(path: string, adapter: CrashAdapter): Promise<Store> {
  if (adapter === "level") return open({ path });
  return open({ log: await segmentLog(path, { blocking: adapter === "segments-blocking" }) });
}
