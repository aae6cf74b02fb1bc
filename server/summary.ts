/** The compact view of a stage that lists, reports, metrics and live updates send. */
import { progressOf } from "../core/progress.ts";
import type { StageState } from "../core/state.ts";

export function summarize(s: Readonly<StageState>, now: number, staleAfterMs: number) {
  return {
    stage: s.stage,
    status: s.status,
    revision: s.revision,
    total: s.total,
    counters: { ...s.counters },
    cost: s.cost,
    errors: { count: s.errors.count, lastMessage: s.errors.lastMessage },
    runId: s.run?.id ?? null,
    updatedAt: s.updatedAt,
    progress: progressOf(s as StageState, now, staleAfterMs),
  };
}

export type Summary = ReturnType<typeof summarize>;
