/**
 * What a Stage needs from its Store, kept as an interface so the two files do not import each
 * other.
 */
import type { EventLog } from "./log.ts";
import type { Clock } from "./clock.ts";
import type { Platform } from "./platform.ts";
import type { Run, RunLimits } from "./run.ts";
import type { StageWriter } from "./writer.ts";

export interface StoreContext {
  readonly log: EventLog;
  readonly platform: Platform;
  readonly limits: RunLimits;
  readonly clock: Clock;
  readonly closed: boolean;
  checkOpen(): void;
  writer(stage: string): Promise<StageWriter>;
  dropWriter(stage: string): Promise<void>;
  activeRun(stage: string): Run | undefined;
  startRun(stage: string, run: Run): void;
  endRun(stage: string, run: Run): void;
  /**
   * Ids of this store's runs that ended with updates lost (sticky error): their leases no longer
   * hold anyone off.
   */
  readonly abandoned: ReadonlySet<string>;
}
