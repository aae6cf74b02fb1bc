/** The compact view of a stage that lists, reports, metrics and live updates send. */
import { progressOf } from "../core/progress.ts";
import { CkptError, ErrorCode, isCkptError } from "../core/errors.ts";
import type { Projection } from "../core/projection.ts";
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

/**
 * A stage listed but not summarised: its state cannot be rebuilt (say CKPT_CORRUPT); `ckpt verify`
 * tells more.
 */
export interface Broken {
  stage: string;
  status: "broken";
  code: string;
  message: string;
}

/**
 * The stage's projection, or why it has none, so one damaged stage never fails a listing of the
 * others.
 */
export async function projectionOrBroken(
  log: { projection(stream: string): Promise<Readonly<Projection> | undefined> },
  stage: string,
): Promise<{ projection: Readonly<Projection> | undefined } | { broken: Broken }> {
  try {
    return { projection: await log.projection(stage) };
  } catch (err) {
    if (!isCkptError(err)) throw err;
    return { broken: { stage, status: "broken", code: err.code, message: err.message } };
  }
}

/** The stage's state as of its last acknowledged append; CKPT_NOT_FOUND when it has no events. */
export async function existingState(
  log: { projection(stream: string): Promise<Readonly<Projection> | undefined> },
  stage: string,
): Promise<Readonly<StageState>> {
  const p = await log.projection(stage);
  if (!p) {
    throw new CkptError(
      ErrorCode.NOT_FOUND,
      `Stage "${stage}" does not exist (it has no events).`,
      { details: { stage } },
    );
  }
  return p.state;
}
