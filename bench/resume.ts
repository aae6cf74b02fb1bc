/**
 * Figure 4: resume time (`open()` + `stage.state()`) for histories of growing length; a snapshot
 * must keep it flat.
 */
import { open } from "../mod.ts";
import { type History, STAGE } from "./history.ts";
import { pow10 } from "./format.ts";
import { peakRss, resetPeak } from "./peak.ts";
import { ratios, type Spread, spread } from "./stats.ts";

export interface ResumeResult {
  events: number;
  label: string;
  ms: Spread;
  /** Events read after the latest snapshot (the tail resume folds in). */
  tail: number;
  /**
   * Time over the first history's time (the baseline, 10^3), round by round; undefined for the
   * first.
   */
  vsFirst?: Spread;
  /** Which measurement set it belongs to: "as left by the crash" or "after LevelDB compaction". */
  compacted: boolean;
  /** The bench process's peak RSS during each resume, bytes. */
  peakRss: Spread;
}

async function resumeOnce(dir: string): Promise<{ ms: number; tail: number }> {
  const t0 = performance.now();
  const store = await open({ path: dir, durability: "sync" });
  const state = await store.stage(STAGE).state();
  const ms = performance.now() - t0;
  const snap = await store.log.loadSnapshot(STAGE);
  await store.close();
  return { ms, tail: state.revision - (snap?.revision ?? -1) };
}

/**
 * Resumes every history once per round (order rotating); ratios are taken against `histories[0]`
 * within each round.
 */
export async function resumeTimes(
  histories: History[],
  o: { rounds: number; compacted: boolean; progress: (line: string) => void },
): Promise<ResumeResult[]> {
  // The first open of a folder replays LevelDB's own write-ahead log into a table file: not ckpt's
  // resume.
  for (const h of histories) await resumeOnce(h.dir);
  const ms = new Map<History, number[]>(histories.map((h) => [h, []]));
  const rss = new Map<History, number[]>(histories.map((h) => [h, []]));
  const tails = new Map<History, number>();
  for (let r = 0; r < o.rounds; r++) {
    for (let k = 0; k < histories.length; k++) {
      const h = histories[(k + r) % histories.length]!;
      resetPeak();
      const res = await resumeOnce(h.dir);
      rss.get(h)!.push(peakRss());
      ms.get(h)!.push(res.ms);
      tails.set(h, res.tail);
    }
  }
  const first = ms.get(histories[0]!)!;
  const out = histories.map((h, i) => ({
    events: h.events,
    label: `${pow10(h.events)} events, tail ${h.tail.toLocaleString("en-US")}${
      o.compacted && i > 0 ? ", compacted" : ""
    }`,
    ms: spread(ms.get(h)!),
    tail: tails.get(h)!,
    ...(i > 0 ? { vsFirst: ratios(ms.get(h)!, first) } : {}),
    compacted: o.compacted && i > 0,
    peakRss: spread(rss.get(h)!),
  }));
  o.progress(`resume ${out.map((x) => `${x.label}: ${x.ms.median.toFixed(2)} ms`).join("; ")}`);
  return out;
}
