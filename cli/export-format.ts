/**
 * The `ckpt export` file: versioned JSON holding each stage's events (enough to rebuild it exactly,
 * revisions included), its base snapshot when compacted, and its state and history for readers.
 */
import { z } from "zod";
import type { CkptEvent } from "../core/events.ts";
import type { History } from "../core/history.ts";
import type { Snapshot } from "../core/log.ts";
import type { StageState } from "../core/state.ts";

export const EXPORT_FORMAT = "ckpt-export";
/** Bump when the layout changes; import refuses versions it does not know. */
export const EXPORT_VERSION = 1;

export interface ExportHeader {
  format: typeof EXPORT_FORMAT;
  version: typeof EXPORT_VERSION;
  exportedAt: string;
  /** Where it came from (no credentials). */
  source: string;
  /**
   * The reducer that computed `state` and `history`; import compares them only when it is the same.
   */
  reducerVersion: number;
}

export interface ExportedStage {
  stage: string;
  /** Revision of `events[0]`: greater than 0 when older events were compacted into `base`. */
  first: number;
  /** Revision of the last event. */
  head: number;
  /** The projection as of revision `first - 1` (null when nothing was compacted). */
  base: Snapshot | null;
  events: CkptEvent[];
  state: StageState;
  history: History;
}

export interface ExportFile extends ExportHeader {
  stages: ExportedStage[];
}

/** The envelope checked on import; events are checked one by one with core's schemas afterwards. */
export const ExportFileSchema = z.object({
  format: z.literal(EXPORT_FORMAT, {
    error: `not a ckpt export (its "format" is not "${EXPORT_FORMAT}")`,
  }),
  version: z.number().int().positive(),
  exportedAt: z.string().optional(),
  source: z.string().optional(),
  reducerVersion: z.number().int().optional(),
  stages: z.array(
    z.object({
      stage: z.string(),
      first: z.number().int().nonnegative(),
      head: z.number().int().min(-1),
      base: z.object({ revision: z.number().int(), version: z.number().int(), state: z.unknown() })
        .nullable(),
      events: z.array(z.unknown()),
      state: z.unknown().optional(),
      history: z.unknown().optional(),
    }),
  ),
});
