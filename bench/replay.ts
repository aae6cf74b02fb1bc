/**
 * Figure 5: replay speed through `stage.replay()` (what `ckpt replay` runs), beside the bare log
 * read to tell the adapter's share.
 */
import { open } from "../mod.ts";
import { type History, STAGE } from "./history.ts";
import { peakRss, resetPeak } from "./peak.ts";
import { type Spread, spread } from "./stats.ts";

export interface ReplayResult {
  events: number;
  replayPerSec: Spread;
  readPerSec: Spread;
  /** Which log method the bare read used: the adapter's page reader when it has one. */
  reader: "readBatches" | "read";
  /** The bench process's peak RSS during each replay and each bare read, bytes. */
  replayPeakRss?: Spread;
  readPeakRss?: Spread;
}

export async function replaySpeed(
  h: History,
  o: { rounds: number; progress: (line: string) => void },
): Promise<ReplayResult> {
  const store = await open({ path: h.dir });
  const stage = store.stage(STAGE);
  await stage.state(); // the writer loads once; replay itself is what is timed
  const replay: number[] = [];
  const read: number[] = [];
  const replayRss: number[] = [];
  const readRss: number[] = [];
  try {
    for (let r = 0; r < o.rounds; r++) {
      let n = 0;
      resetPeak();
      let t0 = performance.now();
      for await (const _ of stage.replay()) n++;
      replay.push((n / (performance.now() - t0)) * 1000);
      replayRss.push(peakRss());
      let m = 0;
      resetPeak();
      t0 = performance.now();
      if (store.log.readBatches) {
        for await (const batch of store.log.readBatches(STAGE)) m += batch.length;
      } else for await (const _ of store.log.read(STAGE)) m++;
      read.push((m / (performance.now() - t0)) * 1000);
      readRss.push(peakRss());
      if (n !== h.events || m !== h.events) {
        throw new Error(`replay saw ${n} events, read ${m}, expected ${h.events}`);
      }
      o.progress(
        `replay round ${r + 1}/${o.rounds} ${
          Math.round(replay[r]!).toLocaleString("en-US")
        } events/s (log alone ${Math.round(read[r]!).toLocaleString("en-US")}/s)`,
      );
    }
  } finally {
    await store.close();
  }
  return {
    events: h.events,
    replayPerSec: spread(replay),
    readPerSec: spread(read),
    reader: store.log.readBatches ? "readBatches" : "read",
    replayPeakRss: spread(replayRss),
    readPeakRss: spread(readRss),
  };
}
