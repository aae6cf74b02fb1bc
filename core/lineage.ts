/**
 * Item lineage: every stored event that touched one item index (its attempts, outcomes, errors,
 * reopenings and the resets that cleared it), each with the run and worker that wrote it, so
 * "why was item 4711 skipped?" has an answer. A pure fold over the replay; `itemLineage` drives it.
 */
import type { Outcome } from "./events.ts";
import type { ReplayEntry } from "./replay.ts";
import { isDone } from "./state.ts";

/** What an event did to the item. */
export type LineageEffect =
  | "recorded" // first outcome since the item was last open: it counts
  | "duplicate" // the item was already done: counted as a duplicate, the first outcome stands
  | "reopened" // taken back (its output failed a check): it will be done again
  | "error" // an error event naming this index
  | "reset"; // the stage started over: the item is open again

export interface LineageEntry {
  revision: number;
  at: number;
  type: string;
  effect: LineageEffect;
  outcome: Outcome | null;
  error: string | null;
  /** For error events: whether the caller said a retry may help. */
  retryable: boolean | null;
  cost: number | null;
  /** The item's label and batch, when the worker gave them. */
  item: string | null;
  batch: string | null;
  reason: string | null;
  runId: string | null;
  host: string | null;
  pid: number | null;
}

export interface ItemLineage {
  stage: string;
  index: number;
  /** Done in the current state (successful, failed or skipped), so a resume will not redo it. */
  done: boolean;
  /** The outcome that counts now, or null while the item is open. */
  outcome: Outcome | null;
  /** Item events for this index (each is one attempt that reached the log). */
  attempts: number;
  errors: number;
  /** Cost recorded on this item's events, every attempt included. */
  cost: number;
  entries: LineageEntry[];
  /** The stage's head revision when this was read. */
  revision: number;
  /**
   * The first stored revision: above 0 when older events were compacted (their part of the story is
   * gone).
   */
  firstRevision: number;
}

/**
 * Folds replay entries into the lineage of `index`. Feed every entry of a replay from the start, in
 * order.
 */
export class LineageFold {
  private readonly entries: LineageEntry[] = [];
  private wasDone = false;
  private started = false;
  private attempts = 0;
  private errors = 0;
  private cost = 0;
  private outcome: Outcome | null = null;
  private revision = -1;
  private first = -1;

  constructor(
    readonly stage: string,
    readonly index: number,
  ) {}

  add({ revision, event, state }: ReplayEntry): void {
    const doneAfter = isDone(state, this.index);
    if (!this.started) {
      this.started = true;
      this.first = revision;
      // The state before the first stored event (a compacted base) is not seen: infer it from
      // after.
      this.wasDone = event.type === "item" && event.index === this.index ? false : doneAfter;
    }
    this.revision = revision;
    const run = state.run;
    const who = {
      runId: run?.id ?? null,
      host: run?.owner?.host ?? null,
      pid: run?.owner?.pid ?? null,
    };
    const base = {
      revision,
      at: event.at,
      type: event.type,
      outcome: null,
      error: null,
      retryable: null,
      cost: null,
      item: null,
      batch: null,
      reason: null,
      ...who,
    };
    if (event.type === "item" && event.index === this.index) {
      this.attempts++;
      if (event.cost !== undefined) this.cost += event.cost;
      const effect: LineageEffect = this.wasDone ? "duplicate" : "recorded";
      if (effect === "recorded") this.outcome = event.outcome;
      this.entries.push({
        ...base,
        effect,
        outcome: event.outcome,
        error: event.error ?? null,
        cost: event.cost ?? null,
        item: event.item ?? null,
        batch: event.batch ?? null,
      });
    } else if (event.type === "item.reopened" && event.index === this.index) {
      if (this.wasDone && !doneAfter) this.outcome = null;
      this.entries.push({ ...base, effect: "reopened", reason: event.reason ?? null });
    } else if (event.type === "error" && event.index === this.index) {
      this.errors++;
      this.entries.push({
        ...base,
        effect: "error",
        error: event.message,
        retryable: event.retryable,
        item: event.item ?? null,
      });
    } else if (event.type === "reset" && this.wasDone) {
      this.outcome = null;
      this.entries.push({
        ...base,
        effect: "reset",
        reason: event.reason ?? null,
        runId: null,
        host: null,
        pid: null,
      });
    }
    this.wasDone = doneAfter;
  }

  result(): ItemLineage {
    return {
      stage: this.stage,
      index: this.index,
      done: this.wasDone,
      outcome: this.wasDone ? this.outcome : null,
      attempts: this.attempts,
      errors: this.errors,
      cost: this.cost,
      entries: this.entries,
      revision: this.revision,
      firstRevision: Math.max(this.first, 0),
    };
  }
}

/**
 * The lineage of one item from a stage's replay (the same projection as `ckpt replay`).
 * @example const l = await itemLineage(store.stage("fetch").replay(), "fetch", 4711); l.entries.map((e) => e.effect)
 */
export async function itemLineage(
  replay: AsyncIterable<ReplayEntry>,
  stage: string,
  index: number,
): Promise<ItemLineage> {
  const fold = new LineageFold(stage, index);
  for await (const e of replay) fold.add(e);
  return fold.result();
}
