/**
 * Figures 1–2: durable updates/s and latency with 1, 8 and 64 concurrent awaiting workers, every
 * subject interleaved.
 */
import { spawnSync } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { drive, type DriveResult } from "./drive.ts";
import { peakRss, resetPeak } from "./peak.ts";
import { type Spread, spread } from "./stats.ts";
import type { Subject } from "./subject.ts";

export interface DurableCell {
  perSec: Spread;
  p50Ms: Spread;
  p99Ms: Spread;
  group?: Spread;
  /** The bench process's peak RSS during the cell (every subject is open in it), bytes. */
  peakRss: Spread;
}

export interface DurableSubjectResult {
  key: string;
  label: string;
  cells: Record<number, DurableCell>;
  /** What the subject reported on close (bytes on disk, events written). */
  closed: Record<string, number>;
}

/**
 * Writes back every dirty page before the next cell: on ext4 (data=ordered) an fsync commits the
 * journal and with it other files' dirty data, so without this the subject after "os" or memory
 * runs would pay for their writes.
 */
async function settle(): Promise<void> {
  spawnSync("sync", { stdio: "ignore" });
  await sleep(20);
}

export interface DurableOptions {
  workers: number[];
  rounds: number;
  ms: number;
  progress: (line: string) => void;
}

/**
 * Every subject runs once per worker count per round, the order rotating each round, so slow drift
 * (page cache, compaction, other load) lands on all alike.
 */
export async function durableUpdates(
  subjects: Subject[],
  o: DurableOptions,
): Promise<DurableSubjectResult[]> {
  for (const s of subjects) await drive(s, 8, Math.min(200, o.ms)); // warm-up: JIT, files created, caches
  const raw = new Map<Subject, Map<number, Array<DriveResult & { peakRss: number }>>>(
    subjects.map((s) => [s, new Map(o.workers.map((w) => [w, []]))]),
  );
  for (let r = 0; r < o.rounds; r++) {
    for (const w of o.workers) {
      for (let k = 0; k < subjects.length; k++) {
        const s = subjects[(k + r) % subjects.length]!;
        await settle();
        resetPeak();
        const res = { ...(await drive(s, w, o.ms)), peakRss: peakRss() };
        raw.get(s)!.get(w)!.push(res);
        o.progress(
          `durable round ${r + 1}/${o.rounds} ${String(w).padStart(2)} workers  ${
            s.label.padEnd(34)
          } ${Math.round(res.perSec).toLocaleString("en-US")}/s`,
        );
      }
    }
  }
  const out: DurableSubjectResult[] = [];
  for (const s of subjects) {
    const cells: Record<number, DurableCell> = {};
    for (const [w, rs] of raw.get(s)!) {
      const groups = rs.map((x) => x.group).filter((g): g is number => g !== undefined);
      cells[w] = {
        perSec: spread(rs.map((x) => x.perSec)),
        p50Ms: spread(rs.map((x) => x.p50Ms)),
        p99Ms: spread(rs.map((x) => x.p99Ms)),
        peakRss: spread(rs.map((x) => x.peakRss)),
        ...(groups.length ? { group: spread(groups) } : {}),
      };
    }
    out.push({ key: s.key, label: s.label, cells, closed: (await s.close()) ?? {} });
  }
  return out;
}
