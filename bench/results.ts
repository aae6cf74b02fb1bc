/**
 * The shape of one bench run's results, and writing them to bench/results/ (the run's own file and
 * latest.json).
 */
import type { StartupCase } from "./startup.ts";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DiskResult } from "./disk.ts";
import type { DurableSubjectResult } from "./durable.ts";
import type { HotResult } from "./hotloop.ts";
import type { PostgresBenchResult } from "./postgres.ts";
import type { ReplayResult } from "./replay.ts";
import type { ResumeResult } from "./resume.ts";
import type { SegmentOpenResult } from "./segments-open.ts";
import type { SidecarResult } from "./sidecar.ts";
import type { StateSizeResult } from "./state-size.ts";
import type { Spread } from "./stats.ts";

export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean;
  /** How far off, when missed ("3.2× short"). */
  by?: string;
}

export interface BenchResults {
  machine: { runtime: string; cpu: string; cores: number; memGiB: number; os: string };
  mode: "quick" | "full";
  /** The sections run when `--only` chose some (absent: all of them). */
  only?: string[];
  command: string;
  startedAt: string;
  seconds: number;
  /** 1-minute load average range seen during the run. */
  load: { cores: number; min: number; max: number };
  config: Record<string, unknown>;
  /** Rows that could not run here and why. */
  skipped: string[];
  durable: DurableSubjectResult[];
  hot: HotResult[];
  resume: ResumeResult[];
  /** Resume time at the largest history over the smallest, per round. */
  resumeRatio?: Spread;
  /** Resume on the segment log, whose open reads the whole log (absent before it was measured). */
  segmentResume?: SegmentOpenResult[];
  replay?: ReplayResult;
  disk: {
    hotLoop?: DiskResult;
    workers?: { events: number; bytes: number; bytesPerEvent: number };
  };
  stateSize: StateSizeResult[];
  sidecar: SidecarResult;
  /** Issue 17's rows (absent from results written before it). */
  postgres?: PostgresBenchResult;
  /** Cold starts of the CLI and the entry points (bench/startup.ts), Node only. */
  startup?: StartupCase[];
  targets: TargetCheck[];
}

/**
 * Writes the run's own file, and latest.json unless `latest` is false (a run of some rows only must
 * not replace it).
 */
export function writeResults(dir: string, r: BenchResults, latest = true): string {
  mkdirSync(dir, { recursive: true });
  const name = `${r.startedAt.replace(/[:.]/g, "-")}-${
    r.machine.runtime.split(" ")[0]
  }-${r.mode}.json`;
  const json = JSON.stringify(r, null, 2) + "\n";
  writeFileSync(join(dir, name), json);
  if (latest) writeFileSync(join(dir, "latest.json"), json);
  return join(dir, name);
}
