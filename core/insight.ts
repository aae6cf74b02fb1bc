/**
 * What the dashboard's stage page draws, folded in one pass over a stage's replay: the lifecycle
 * timeline with who and where, a thinned progress series (throughput and ETA over time), errors
 * grouped by message, and each run's owner. Pure: it sees replay entries, nothing else.
 */
import { progressOf } from "./progress.ts";
import type { ReplayEntry } from "./replay.ts";

export interface TimelineEntry {
  revision: number;
  at: number;
  /** run.started, paused, resumed, crash.detected, completed, failed or reset. */
  type: string;
  runId: string | null;
  host: string | null;
  pid: number | null;
  /** The reason or message the event carried. */
  detail: string | null;
}

export interface SeriesPoint {
  at: number;
  revision: number;
  processed: number;
  /**
   * Items per second over a trailing window (a 40th of the series' span, at least 1 s); null at a
   * start or reset.
   */
  rate: number | null;
  /** The stage's ETA in seconds as it stood then (null when unknown). */
  etaSeconds: number | null;
}

export interface ErrorGroup {
  message: string;
  count: number;
  /** As the latest occurrence said (item errors count as not retryable). */
  retryable: boolean;
  firstAt: number;
  lastAt: number;
  /** Up to five item indices that had this error, for their lineage. */
  indices: number[];
}

export interface StageInsight {
  stage: string;
  revision: number;
  firstRevision: number;
  timeline: TimelineEntry[];
  series: SeriesPoint[];
  errors: ErrorGroup[];
  /** Owner of each run, by run id (the history's runs do not carry it). */
  owners: Record<string, { host: string; pid: number } | null>;
}

const LIFECYCLE = new Set([
  "run.started",
  "paused",
  "resumed",
  "crash.detected",
  "completed",
  "failed",
  "reset",
]);
const MAX_TIMELINE = 500;
const MAX_GROUPS = 100;
const MAX_POINTS = 400;

/** Feed every entry of a replay from the start, in order; `result()` any time after. */
export class InsightFold {
  private readonly timeline: TimelineEntry[] = [];
  private readonly groups = new Map<string, ErrorGroup>();
  private readonly owners: Record<string, { host: string; pid: number } | null> = {};
  /** Kept samples: every `stride`-th progress change, halved in place when there are too many. */
  private points: { at: number; revision: number; processed: number; eta: number | null }[] = [];
  private stride = 1;
  private seen = 0;
  private lastProcessed = -1;
  private revision = -1;
  private first = -1;

  constructor(readonly stage: string) {}

  add({ revision, event, state }: ReplayEntry): void {
    if (this.first < 0) this.first = revision;
    this.revision = revision;
    if (LIFECYCLE.has(event.type)) {
      const owner = event.type === "run.started" || event.type === "crash.detected"
        ? event.owner
        : undefined;
      const runId = event.type === "run.started" || event.type === "crash.detected"
        ? event.runId ?? null
        : event.type === "reset"
        ? null
        : state.run?.id ?? null;
      if (event.type === "run.started") {
        this.owners[event.runId] = owner ? { host: owner.host, pid: owner.pid } : null;
      }
      const detail = "reason" in event
        ? event.reason
        : "message" in event
        ? event.message
        : undefined;
      this.timeline.push({
        revision,
        at: event.at,
        type: event.type,
        runId,
        host: owner?.host ?? null,
        pid: owner?.pid ?? null,
        detail: detail ?? null,
      });
      if (this.timeline.length > MAX_TIMELINE) this.timeline.shift();
    }
    if (event.type === "error") this.error(event.message, event.retryable, event.at, event.index);
    else if (event.type === "item" && event.error !== undefined) {
      this.error(event.error, false, event.at, event.index);
    } else if (event.type === "unit" && event.status === "failed" && event.error !== undefined) {
      this.error(event.error, event.retryable ?? false, event.at);
    } else if (event.type === "failed") {
      this.error(event.message, event.retryable ?? false, event.at);
    }

    const processed = state.counters.processed;
    if (processed !== this.lastProcessed || event.type === "reset") {
      this.lastProcessed = processed;
      if (this.seen++ % this.stride === 0) {
        this.points.push({
          at: event.at,
          revision,
          processed,
          eta: progressOf(state, event.at).etaSeconds,
        });
        if (this.points.length > MAX_POINTS) {
          this.points = this.points.filter((_, i) => i % 2 === 0);
          this.stride *= 2;
        }
      }
    }
  }

  private error(message: string, retryable: boolean, at: number, index?: number): void {
    let g = this.groups.get(message);
    if (!g) {
      if (this.groups.size >= MAX_GROUPS * 10) return; // a flood of distinct messages: the first thousand tell the story
      this.groups.set(
        message,
        g = { message, count: 0, retryable, firstAt: at, lastAt: at, indices: [] },
      );
    }
    g.count++;
    g.retryable = retryable;
    g.lastAt = at;
    if (index !== undefined && g.indices.length < 5 && !g.indices.includes(index)) {
      g.indices.push(index);
    }
  }

  result(): StageInsight {
    // Rate over a trailing window (a 40th of the whole span, at least a second), so bursty group
    // commits read as a throughput rather than as spikes; a reset (processed going down) starts the
    // window afresh.
    const pts = this.points;
    const windowMs = pts.length > 1
      ? Math.max(1000, (pts[pts.length - 1]!.at - pts[0]!.at) / 40)
      : 1000;
    let j = 0;
    const series: SeriesPoint[] = pts.map((p, i) => {
      if (i > 0 && p.processed < pts[i - 1]!.processed) j = i;
      while (j < i && pts[j + 1]!.at <= p.at - windowMs) j++;
      const from = pts[j]!;
      const dt = (p.at - from.at) / 1000;
      const rate = j < i && dt > 0 ? (p.processed - from.processed) / dt : null;
      return { at: p.at, revision: p.revision, processed: p.processed, rate, etaSeconds: p.eta };
    });
    const errors = [...this.groups.values()].sort((a, b) =>
      b.count - a.count || b.lastAt - a.lastAt
    ).slice(0, MAX_GROUPS);
    return {
      stage: this.stage,
      revision: this.revision,
      firstRevision: Math.max(this.first, 0),
      timeline: this.timeline,
      series,
      errors,
      owners: this.owners,
    };
  }
}

/** The insight of a whole replay. */
export async function stageInsight(
  replay: AsyncIterable<ReplayEntry>,
  stage: string,
): Promise<StageInsight> {
  const fold = new InsightFold(stage);
  for await (const e of replay) fold.add(e);
  return fold.result();
}
