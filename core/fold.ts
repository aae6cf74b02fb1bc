/**
 * The one way a stage's projection is rebuilt: a starting point (the base snapshot compaction left,
 * the latest snapshot, or empty) and the stored events after it folded in order. Loading a writer,
 * compaction, replay, export, import and verify all start here, so they cannot disagree on where a
 * compacted stage begins or on what its events add up to.
 */
import type { CkptEvent } from "./events.ts";
import { CkptError, ErrorCode, isCkptError } from "./errors.ts";
import { type EventLog, readForward, type RecordedEvent, type Snapshot } from "./log.ts";
import {
  applyToProjection,
  cloneProjection,
  fromSnapshot,
  initialProjection,
  type Projection,
} from "./projection.ts";

/**
 * Where folding starts for a stage whose stored events begin at revision `first`: a private copy of
 * its base snapshot when it was compacted, else empty. Undefined when a compacted stage's base is
 * missing or was written by another reducer version (callers word that refusal for their reader).
 */
export function startFrom(
  stage: string,
  first: number,
  base: Snapshot | null | undefined,
): Projection | undefined {
  if (first <= 0) return initialProjection(stage);
  const p = fromSnapshot(stage, base ?? undefined);
  return p && cloneProjection(p);
}

/**
 * The starting point read from `log` (base snapshot when compacted); CKPT_CORRUPT when it cannot be
 * had.
 */
export async function baseProjection(
  log: EventLog,
  info: { stream: string; first: number },
): Promise<Projection> {
  const p = startFrom(
    info.stream,
    info.first,
    info.first > 0 ? await log.loadSnapshot(info.stream, "base") : undefined,
  );
  if (!p) throw missingBase(info.stream, info.first);
  return p;
}

/** Folds `events`, the first at revision `from`, into `p` in place. */
export function foldEvents(p: Projection, events: Iterable<CkptEvent>, from: number): void {
  let rev = from;
  for (const e of events) applyToProjection(p, e, rev++);
}

/**
 * Folds the stored events after `p`'s revision (and before `until`) into `p` in place; returns how
 * many. `collect` receives them too, for callers that pass them on to listeners.
 */
export async function foldLog(
  log: EventLog,
  stream: string,
  p: Projection,
  o: { until?: number; collect?: RecordedEvent[] } = {},
): Promise<number> {
  const until = o.until ?? Infinity;
  let n = 0;
  for await (const batch of readForward(log, stream, p.state.revision + 1)) {
    for (const r of batch) {
      if (r.revision >= until) return n;
      applyToProjection(p, r.event, r.revision);
      o.collect?.push(r);
      n++;
    }
  }
  return n;
}

/**
 * What a writer resumes from: the latest snapshot of this reducer version plus the events after it
 * (never more); the base snapshot's starting point when there is no usable latest one.
 */
export async function loadProjection(
  log: EventLog,
  stream: string,
): Promise<{ projection: Projection; snapshotRevision: number; eventsRead: number }> {
  const info = await log.info(stream);
  if (!info) return { projection: initialProjection(stream), snapshotRevision: -1, eventsRead: 0 };
  const snap = await log.loadSnapshot(stream);
  const latest = snap && snap.revision <= info.head ? fromSnapshot(stream, snap) : undefined;
  const snapshotRevision = latest ? snap!.revision : -1;
  const projection = latest ? cloneProjection(latest) : startFrom(stream, info.first, undefined);
  if (!projection) {
    throw new CkptError(
      ErrorCode.CORRUPT,
      `Stage "${stream}" was compacted up to revision ${info.first} but its base snapshot is missing or from another ckpt version; its state cannot be rebuilt. Restore it from an export, or reset the stage.`,
      { details: { stage: stream, first: info.first } },
    );
  }
  let eventsRead: number;
  try {
    eventsRead = await foldLog(log, stream, projection);
  } catch (err) {
    if (isCkptError(err) && err.code !== ErrorCode.BAD_TRANSITION) throw err;
    throw new CkptError(
      ErrorCode.CORRUPT,
      `Stage "${stream}" does not replay cleanly at revision ${projection.state.revision + 1}: ${
        String((err as Error).message ?? err)
      }. Run \`ckpt verify ${stream}\`.`,
      { cause: err },
    );
  }
  return { projection, snapshotRevision, eventsRead };
}

function missingBase(stream: string, first: number): CkptError {
  return new CkptError(
    ErrorCode.CORRUPT,
    `Stage "${stream}" was compacted but its base snapshot is missing or from another ckpt version; run \`ckpt verify ${stream}\`.`,
    {
      details: { stage: stream, first },
    },
  );
}
