/** The sidecar's Store: one Store over the guarded log, wired to this runtime's platform. */
import type { EventLog } from "../core/log.ts";
import { Store, type StoreOptions } from "../core/store.ts";
import { runtimePlatform } from "../runtime/platform.ts";
import { guardLog, type GuardOptions } from "./guarded-log.ts";

/**
 * @example const store = serverStore(await levelLog("./.ckpt")); const { app } = createApp(store)
 */
export function serverStore(log: EventLog, options: StoreOptions & GuardOptions = {}): Store {
  const { cacheSize, checkTransitions, ...storeOptions } = options;
  const guard = guardLog(log, {
    ...(cacheSize === undefined ? {} : { cacheSize }),
    ...(checkTransitions === undefined ? {} : { checkTransitions }),
  });
  return new Store(guard, { platform: runtimePlatform, ...storeOptions });
}
