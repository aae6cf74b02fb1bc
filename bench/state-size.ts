/**
 * Figure 6b: the resume state's msgpack size with 10^7 items done out of order (peak and final).
 */
import { Packr } from "msgpackr";
import { initialState, levelLog, open, type StageState } from "../mod.ts";
import { apply } from "../core/state.ts";
import { rangeCount } from "../core/resume-set.ts";
import { removeDir, tempDir } from "./tmp.ts";

export interface StateSizeResult {
  items: number;
  pattern: string;
  via: "reducer" | "pipeline";
  peakRanges: number;
  peakBytes: number;
  finalBytes: number;
  seconds: number;
  /** The bench process's peak RSS while this figure ran, bytes (set by bench/run.ts). */
  processPeakRss?: number;
}

const WINDOW = 1024;
const LATER_ONE_IN = 1000;
export const PATTERN = `${WINDOW} in flight finishing at random, 1 in ${LATER_ONE_IN} retried last`;

const size = (s: StageState) => new Packr({ useRecords: true, sequential: true }).pack(s).length;

/** Deterministic PRNG (mulberry32), so every run folds the same order. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Completion order of `n` items: workers finish in random order within an in-flight window, and
 * some items are left for later (failed, retried at the end), so ranges pile up beyond the
 * watermark before they close.
 */
export function* outOfOrder(n: number): Generator<number> {
  const random = rng(7);
  const later: number[] = [];
  const inFlight: number[] = [];
  let next = 0;
  const start = () => {
    while (next < n) {
      const i = next++;
      if (random() * LATER_ONE_IN < 1) later.push(i);
      else return inFlight.push(i);
    }
  };
  while (inFlight.length < WINDOW && next < n) start();
  while (inFlight.length > 0) {
    const j = Math.floor(random() * inFlight.length);
    const i = inFlight[j]!;
    inFlight[j] = inFlight[inFlight.length - 1]!;
    inFlight.pop();
    yield i;
    start();
  }
  yield* later;
}

/** Tracks the largest state seen, packing it only when the range count reaches a new high by 5%. */
function peakTracker() {
  let peakRanges = 0;
  let peakBytes = 0;
  let packedAt = 0;
  return {
    see(s: StageState) {
      const r = rangeCount(s.resume);
      if (r > peakRanges) peakRanges = r;
      if (r > packedAt * 1.05 + 16) {
        packedAt = r;
        peakBytes = Math.max(peakBytes, size(s));
      }
    },
    result: () => ({ peakRanges, peakBytes }),
  };
}

/**
 * Folds the item events with core's reducer directly: quick mode's way (the whole pipeline at 10^7
 * runs only with --full).
 */
export function stateSizeReducer(items: number): StateSizeResult {
  const t0 = performance.now();
  const s = initialState("bench");
  let rev = 0;
  const at = Date.now();
  apply(s, { type: "run.started", v: 1, at, runId: "bench" }, rev++);
  const peak = peakTracker();
  let k = 0;
  for (const index of outOfOrder(items)) {
    apply(s, { type: "item", v: 1, at, index, outcome: "ok" }, rev++);
    if ((++k & 0x3ff) === 0) peak.see(s);
  }
  const finalBytes = size(s);
  return {
    items,
    pattern: PATTERN,
    via: "reducer",
    ...peak.result(),
    finalBytes,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** The whole pipeline: `run.mark()` in that order on LevelDB, then the state's size. */
export async function stateSizePipeline(items: number): Promise<StateSizeResult> {
  const t0 = performance.now();
  const dir = tempDir("sparse");
  const store = await open({ log: await levelLog(dir, { durability: "os" }) });
  const run = await store.stage("sparse").begin({ total: items });
  const peak = peakTracker();
  let k = 0;
  for (const index of outOfOrder(items)) {
    const wait = run.mark(index);
    if (wait) await wait;
    if ((++k & 0x3ff) === 0) peak.see(run.state as StageState);
  }
  await run.flush();
  const finalBytes = size(run.state as StageState);
  await store.close();
  removeDir(dir);
  return {
    items,
    pattern: PATTERN,
    via: "pipeline",
    ...peak.result(),
    finalBytes,
    seconds: (performance.now() - t0) / 1000,
  };
}
