/**
 * The stage page asks for its insight every few seconds while a stage runs; folding the whole
 * history each time would cost the sidecar O(history) per request. The fold is incremental, so each
 * stage's fold is kept (least recently used dropped first) and only the events after the revision
 * it has seen are replayed. A stage deleted and created again (another creation time, or a lower
 * head) starts afresh.
 */
import { InsightFold, type StageInsight } from "../core/insight.ts";
import type { StageState } from "../core/state.ts";
import type { Store } from "../core/store.ts";

export class InsightCache {
  private readonly folds = new Map<
    string,
    { fold: InsightFold; revision: number; createdAt: number | null; busy: Promise<unknown> }
  >();

  constructor(
    private readonly store: Store,
    private readonly size = 32,
  ) {}

  /** The insight of the stage whose current state is `now`, as of its revision or later. */
  get(stage: string, now: Readonly<StageState>): Promise<StageInsight> {
    let entry = this.folds.get(stage);
    if (entry && (entry.revision > now.revision || entry.createdAt !== now.createdAt)) {
      entry = undefined;
    }
    if (!entry) {
      entry = {
        fold: new InsightFold(stage),
        revision: -1,
        createdAt: now.createdAt,
        busy: Promise.resolve(),
      };
    }
    const head = now.revision;
    this.folds.delete(stage);
    this.folds.set(stage, entry);
    if (this.folds.size > this.size) this.folds.delete(this.folds.keys().next().value!);
    const e = entry;
    // One catch-up at a time per stage: two requests must not feed the same fold twice.
    const next = e.busy.then(async () => {
      if (e.revision < head) {
        for await (const r of this.store.stage(stage).replay({ from: e.revision + 1 })) {
          e.fold.add(r);
          e.revision = r.revision;
        }
      }
      return e.fold.result();
    });
    e.busy = next.catch(() => {
      this.folds.delete(stage); // a failed catch-up may have fed part of a page: rebuild next time
    });
    return next;
  }
}
