/**
 * The store the crash tests kill and reopen, on the adapter a test names: LevelDB (the default) or
 * the preallocated-log experiment (adapters/experimental/prealloc-log.ts), its writes on the
 * threadpool or blocking.
 */
import { preallocLog } from "../../adapters/experimental/prealloc-log.ts";
import { open, type Store } from "../../mod.ts";

export type CrashAdapter = "level" | "prealloc" | "prealloc-blocking";

export async function openStore(path: string, adapter: CrashAdapter): Promise<Store> {
  if (adapter === "level") return open({ path });
  return open({ log: await preallocLog(path, { blocking: adapter === "prealloc-blocking" }) });
}
