/**
 * Figure 4 for the segment log: resume (open + stage.state()) as the history grows. Unlike LevelDB,
 * the segment log rebuilds its index on open by reading every segment once and keeps one record
 * per append (a page) in memory, so its resume follows the bytes on disk and the number of appends.
 * Two shapes of history bound it: items marked in a hot loop (few, large appends: the bytes) and
 * one event per append (64 stages, one awaiting worker each: the most pages per event).
 *
 *   npx tsx bench/segments-open.ts [--rounds 5] [--events 1000000]
 */
import process from "node:process";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { open } from "../mod.ts";
import { segmentLog } from "../adapters/segments.ts";
import { buildHistory, STAGE } from "./history.ts";
import { pow10 } from "./format.ts";
import { peakRss, resetPeak } from "./peak.ts";
import { type Spread, spread } from "./stats.ts";
import { du, removeDir, tempDir } from "./tmp.ts";

export interface SegmentOpenResult {
  label: string;
  events: number;
  bytesOnDisk: number;
  ms: Spread;
  /** Heap the open store holds (with it open less once closed), bytes, one measurement. */
  heapBytes: number;
  peakRss: Spread;
}

interface Built {
  label: string;
  events: number;
  dir: string;
  stage: string;
}

const WORKERS = 64;

/** A full collection before each heap reading, where the runtime lets us ask for one. */
const gc: () => void = (() => {
  try {
    v8.setFlagsFromString("--expose-gc");
    return runInNewContext("gc") as () => void;
  } catch {
    return () => {};
  }
})();

/** One event per append: WORKERS stages, each one awaiting `done` per item. */
async function buildOneEventAppends(events: number): Promise<Built> {
  const dir = tempDir(`seg-pages-${events}`);
  const log = await segmentLog(dir);
  const store = await open({ log });
  const per = Math.ceil(events / WORKERS);
  await Promise.all(
    Array.from({ length: WORKERS }, async (_, w) => {
      const run = await store.stage(`w${w}`).begin({ total: per });
      for (let i = 0; i < per; i++) await run.done(i);
    }),
  );
  await log.close(); // the crash: runs left open
  return {
    label: `segment log, ${pow10(per * WORKERS)} events, one per append (${WORKERS} stages)`,
    events: per * WORKERS,
    dir,
    stage: "w0",
  };
}

/** `heap`: also weigh what the open store holds (two full collections: slow in a big process). */
async function resumeOnce(b: Built, heap: boolean): Promise<{ ms: number; heap?: number }> {
  const t0 = performance.now();
  const store = await open({ path: `segments:${b.dir}` });
  await store.stage(b.stage).state();
  const ms = performance.now() - t0;
  if (!heap) {
    await store.close();
    return { ms };
  }
  // What the open store holds: the heap with it open less the heap once it is closed.
  gc();
  const held = process.memoryUsage().heapUsed;
  await store.close();
  gc();
  return { ms, heap: held - process.memoryUsage().heapUsed };
}

export async function segmentOpenTimes(
  o: { sizes: number[]; pagesEvents: number; rounds: number; progress: (line: string) => void },
): Promise<SegmentOpenResult[]> {
  const built: Built[] = [];
  for (const n of o.sizes) {
    const t0 = performance.now();
    const h = await buildHistory(n, 500, "segments");
    built.push({
      label: `segment log, ${pow10(n)} events, tail 500`,
      events: n,
      dir: h.dir,
      stage: STAGE,
    });
    o.progress(`segment log history of ${pow10(n)} built in ${(performance.now() - t0) | 0} ms`);
  }
  const t0 = performance.now();
  built.push(await buildOneEventAppends(o.pagesEvents));
  o.progress(
    `segment log, ${pow10(o.pagesEvents)} one-event appends built in ${
      (performance.now() - t0) | 0
    } ms`,
  );
  try {
    // First opens: the page cache, not the log; they weigh the index too.
    const heap = new Map<Built, number>();
    for (const b of built) heap.set(b, (await resumeOnce(b, true)).heap!);
    const ms = new Map(built.map((b) => [b, [] as number[]]));
    const rss = new Map(built.map((b) => [b, [] as number[]]));
    for (let r = 0; r < o.rounds; r++) {
      for (let k = 0; k < built.length; k++) {
        const b = built[(k + r) % built.length]!;
        resetPeak();
        const x = await resumeOnce(b, false);
        rss.get(b)!.push(peakRss());
        ms.get(b)!.push(x.ms);
      }
    }
    const out = built.map((b) => ({
      label: b.label,
      events: b.events,
      bytesOnDisk: du(b.dir),
      ms: spread(ms.get(b)!),
      heapBytes: heap.get(b)!,
      peakRss: spread(rss.get(b)!),
    }));
    o.progress(
      `segment log resume ${out.map((x) => `${x.label}: ${x.ms.median.toFixed(1)} ms`).join("; ")}`,
    );
    return out;
  } finally {
    for (const b of built) removeDir(b.dir);
  }
}

if (import.meta.main ?? process.argv[1]?.endsWith("segments-open.ts")) {
  const arg = (name: string, d: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i < 0 ? d : Number(process.argv[i + 1]);
  };
  const events = arg("events", 1_000_000);
  const res = await segmentOpenTimes({
    sizes: [1e3, 1e5, events],
    pagesEvents: events,
    rounds: arg("rounds", 5),
    progress: (l) => process.stderr.write(`${l}\n`),
  });
  for (const r of res) {
    console.log(
      `${r.label}: ${r.ms.median.toFixed(1)} ms [${r.ms.min.toFixed(1)}–${
        r.ms.max.toFixed(1)
      }], heap +${(r.heapBytes / 2 ** 20).toFixed(1)} MiB, peak RSS ${
        (r.peakRss.median / 2 ** 20).toFixed(0)
      } MiB, ${(r.bytesOnDisk / 2 ** 20).toFixed(1)} MiB on disk`,
    );
  }
}
