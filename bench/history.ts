/**
 * Builds stage histories of a given length on LevelDB (or the segment log), left the way a crash
 * mid-run leaves them.
 */
import { segmentLog } from "../adapters/segments.ts";
import { levelLog, open, type Run } from "../mod.ts";
import { tempDir } from "./tmp.ts";

export const STAGE = "history";

export interface History {
  events: number;
  /** Events after the latest snapshot. */
  tail: number;
  dir: string;
}

async function markRange(run: Run, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    const wait = run.mark(i);
    if (wait) await wait;
  }
}

/**
 * `run.started`, items marked in a hot loop, a pause and resume (lifecycle events take a snapshot),
 * then `tail` more items, flushed; then the "crash": the log is closed without pausing the run.
 * Every history thus ends with the same tail after its latest snapshot, so resume times compare
 * history lengths alone.
 */
export async function buildHistory(
  events: number,
  tail: number,
  kind: "level" | "segments" = "level",
): Promise<History> {
  const dir = tempDir(`h${events}`);
  // "os" only to build faster: the bytes on disk are the same as with "sync".
  const log = kind === "segments"
    ? await segmentLog(dir)
    : await levelLog(dir, { durability: "os" });
  const store = await open({ log });
  const run = await store.stage(STAGE).begin({ total: events });
  const before = events - 3 - tail;
  await markRange(run, 0, before);
  await run.pause("snapshot point");
  await run.resume();
  await markRange(run, before, before + tail);
  await run.flush();
  await log.close(); // the crash: no pause, no close of the store
  return { events, tail, dir };
}
