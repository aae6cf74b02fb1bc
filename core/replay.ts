/**
 * The replay iterator behind `stage.replay()`. Written by hand rather than as an async generator:
 * a generator pays a suspended frame and several promises per event, while this hands out the
 * events of an already-decoded page with one resolved promise each, so `ckpt replay` folds
 * millions of events a second.
 */
import type { CkptEvent } from "./events.ts";
import type { RecordedEvent } from "./log.ts";
import { applyToProjection, type Projection } from "./projection.ts";
import { add } from "./resume-set.ts";
import { type StageState, Status } from "./state.ts";

export interface ReplayEntry {
  revision: number;
  event: CkptEvent;
  /**
   * State right after this event: a live view, valid until the next iteration (copy it to keep it).
   */
  state: Readonly<StageState>;
}

export interface ReplayBounds {
  from: number;
  to?: number;
  since?: number;
  until?: number;
}

/**
 * `applyToProjection` for the event replays meet most, a bare successful item (`done(i)`) while the
 * stage runs with its run open: the same changes to state and history, without the generic fold's
 * transition lookup, counter copies and history deltas. Anything else returns false and takes the
 * generic fold; the replay tests check both give the same projection after every event.
 */
function foldPlainItem(p: Projection, event: CkptEvent, revision: number): boolean {
  if (
    event.type !== "item" || event.outcome !== "ok" || event.item !== undefined ||
    event.batch !== undefined || event.cost !== undefined || event.error !== undefined
  ) return false;
  const s = p.state;
  if (s.status !== Status.running) return false;
  const runs = p.history.runs;
  const open = runs[runs.length - 1];
  if (open === undefined || open.endedAt !== null) return false;
  s.revision = revision;
  s.updatedAt = event.at;
  s.createdAt ??= event.at;
  s.resume.lastIndex = event.index;
  if (add(s.resume, event.index)) {
    s.counters.processed++;
    s.counters.successful++;
    open.processed++;
    open.successful++;
  } else s.counters.duplicates++;
  open.toRevision = revision;
  return true;
}

/** Folds `pages` into `p` and yields each event in `bounds` with the state after it. */
export function replayIterator(
  start: () => Promise<{ p: Projection; pages: AsyncIterator<RecordedEvent[]> } | undefined>,
  bounds: ReplayBounds,
): AsyncIterableIterator<ReplayEntry> {
  let started:
    | Promise<{ p: Projection; pages: AsyncIterator<RecordedEvent[]> } | undefined>
    | undefined;
  let page: RecordedEvent[] = [];
  let at = 0;
  let finished = false;
  const done: IteratorResult<ReplayEntry> = { value: undefined, done: true };

  /** The next entry from the current page, or undefined when the page is used up. */
  function fromPage(p: Projection): IteratorResult<ReplayEntry> | undefined {
    while (at < page.length) {
      const { revision, event } = page[at++]!;
      if (
        (bounds.to !== undefined && revision > bounds.to) ||
        (bounds.until !== undefined && event.at > bounds.until)
      ) {
        finished = true;
        return done;
      }
      if (!foldPlainItem(p, event, revision)) applyToProjection(p, event, revision);
      if (revision < bounds.from || (bounds.since !== undefined && event.at < bounds.since)) {
        continue;
      }
      return { value: { revision, event, state: p.state }, done: false };
    }
    return undefined;
  }

  async function slow(): Promise<IteratorResult<ReplayEntry>> {
    const s = await (started ??= start());
    if (!s) {
      finished = true;
      return done;
    }
    for (;;) {
      const hit = fromPage(s.p);
      if (hit) return hit;
      const next = await s.pages.next();
      if (next.done) {
        finished = true;
        return done;
      }
      page = next.value;
      at = 0;
    }
  }

  let ready: { p: Projection } | undefined;
  const it: AsyncIterableIterator<ReplayEntry> = {
    next() {
      if (finished) return Promise.resolve(done);
      if (ready) {
        const hit = fromPage(ready.p);
        if (hit) return Promise.resolve(hit);
      }
      return slow().then((r) => {
        void started?.then((s) => (ready = s));
        return r;
      });
    },
    async return() {
      finished = true;
      const s = await started;
      await s?.pages.return?.();
      return done;
    },
    [Symbol.asyncIterator]() {
      return it;
    },
  };
  return it;
}
