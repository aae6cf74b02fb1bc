/**
 * Prometheus text exposition for the sidecar: counters and one histogram, no client library needed.
 */
import { type Clock, systemClock } from "../core/clock.ts";
import type { CompactionReport } from "../core/retention.ts";
import type { Trigger } from "./compaction-notice.ts";

const BUCKETS = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
] as const;

export interface Gauges {
  inFlight: number;
  watchers: number;
  runsHeld: number;
  stagesByStatus: Record<string, number>;
}

/** The route label of a request refused before any route saw it (shutting down, busy, unknown). */
export const NO_ROUTE = "(no route)";

export class Metrics {
  private readonly requests = new Map<string, number>();
  private appends = 0;
  private appendFailures = 0;
  private events = 0;
  private readonly bucketCounts = BUCKETS.map(() => 0);
  private latencySum = 0;
  private latencyCount = 0;
  rejectedBusy = 0;
  private readonly compactions: Record<Trigger, number> = { schedule: 0, request: 0 };
  private compactedStages = 0;
  private compactedEvents = 0;
  private reclaimedBytes = 0;
  private lastCompaction: { at: number; report: CompactionReport } | undefined;
  compactionFailures = 0;
  compactionRunning = false;

  constructor(private readonly clock: Clock = systemClock) {}

  /** One request answered; `route` is the route pattern (bounded label values), not the URL. */
  countRequest(method: string, route: string, status: number): void {
    const key = `${method}\u0000${route}\u0000${status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  /** One append to the underlying log. */
  observeAppend(seconds: number, events: number, ok: boolean): void {
    if (!ok) {
      this.appendFailures++;
      return;
    }
    this.appends++;
    this.events += events;
    this.latencySum += seconds;
    this.latencyCount++;
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) this.bucketCounts[i]!++;
  }

  /** One compaction that changed the log (dry runs are not counted: they change nothing). */
  observeCompaction(trigger: Trigger, report: CompactionReport): void {
    this.compactions[trigger]++;
    this.compactedStages += report.stagesTouched;
    this.compactedEvents += report.eventsRemoved;
    // A counter never goes down; LevelDB may report a small growth right after compacting.
    this.reclaimedBytes += Math.max(0, report.bytesReclaimed ?? 0);
    this.lastCompaction = { at: this.clock.now(), report };
  }

  render(g: Gauges): string {
    const out: string[] = [];
    const metric = (name: string, type: string, help: string) =>
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    metric(
      "ckpt_http_requests_total",
      "counter",
      "HTTP requests answered, by method, route and status.",
    );
    for (const [key, n] of [...this.requests].sort()) {
      const [method, route, status] = key.split("\u0000");
      out.push(
        `ckpt_http_requests_total{method="${esc(method!)}",route="${
          esc(route!)
        }",status="${status}"} ${n}`,
      );
    }
    metric(
      "ckpt_http_rejected_total",
      "counter",
      "Requests refused with 429 because too many were in flight.",
    );
    out.push(`ckpt_http_rejected_total ${this.rejectedBusy}`);
    metric(
      "ckpt_http_in_flight",
      "gauge",
      "Requests being handled now (live-update streams not included).",
    );
    out.push(`ckpt_http_in_flight ${g.inFlight}`);
    metric("ckpt_watchers", "gauge", "Open live-update (SSE) streams.");
    out.push(`ckpt_watchers ${g.watchers}`);
    metric("ckpt_runs_held", "gauge", "Runs the sidecar holds for HTTP clients.");
    out.push(`ckpt_runs_held ${g.runsHeld}`);
    metric("ckpt_log_appends_total", "counter", "Appends acknowledged by the log.");
    out.push(`ckpt_log_appends_total ${this.appends}`);
    metric(
      "ckpt_log_append_failures_total",
      "counter",
      "Appends the log refused or failed (conflicts included).",
    );
    out.push(`ckpt_log_append_failures_total ${this.appendFailures}`);
    metric("ckpt_log_events_total", "counter", "Events written to the log.");
    out.push(`ckpt_log_events_total ${this.events}`);
    metric(
      "ckpt_log_append_duration_seconds",
      "histogram",
      "Time the log took to acknowledge an append (durable when the log is).",
    );
    BUCKETS.forEach((b, i) =>
      out.push(`ckpt_log_append_duration_seconds_bucket{le="${b}"} ${this.bucketCounts[i]}`)
    );
    out.push(`ckpt_log_append_duration_seconds_bucket{le="+Inf"} ${this.latencyCount}`);
    out.push(`ckpt_log_append_duration_seconds_sum ${this.latencySum}`);
    out.push(`ckpt_log_append_duration_seconds_count ${this.latencyCount}`);
    metric("ckpt_stages", "gauge", "Stages by status.");
    for (const [status, n] of Object.entries(g.stagesByStatus).sort()) {
      out.push(`ckpt_stages{status="${esc(status)}"} ${n}`);
    }
    metric(
      "ckpt_compactions_total",
      "counter",
      "Compactions that changed the log (dry runs not counted), by trigger: the --compact-every schedule or POST /v1/compact.",
    );
    for (const [trigger, n] of Object.entries(this.compactions)) {
      out.push(`ckpt_compactions_total{trigger="${trigger}"} ${n}`);
    }
    metric(
      "ckpt_compaction_failures_total",
      "counter",
      "Compactions that failed (a shutdown stopping one between stages is not a failure).",
    );
    out.push(`ckpt_compaction_failures_total ${this.compactionFailures}`);
    metric(
      "ckpt_compaction_stages_touched_total",
      "counter",
      "Stages compacted or removed by compactions.",
    );
    out.push(`ckpt_compaction_stages_touched_total ${this.compactedStages}`);
    metric(
      "ckpt_compaction_events_removed_total",
      "counter",
      "Events folded into base snapshots and removed by compactions.",
    );
    out.push(`ckpt_compaction_events_removed_total ${this.compactedEvents}`);
    metric(
      "ckpt_compaction_bytes_reclaimed_total",
      "counter",
      "Bytes on disk reclaimed by compactions (logs that can tell).",
    );
    out.push(`ckpt_compaction_bytes_reclaimed_total ${this.reclaimedBytes}`);
    metric("ckpt_compaction_running", "gauge", "1 while a compaction runs.");
    out.push(`ckpt_compaction_running ${this.compactionRunning ? 1 : 0}`);
    const last = this.lastCompaction;
    if (last) {
      // The last report, so one scrape says when compaction last ran and what it did.
      const gauge = (
        name: string,
        help: string,
        value: number,
      ) => (metric(name, "gauge", help), out.push(`${name} ${value}`));
      gauge(
        "ckpt_compaction_last_timestamp_seconds",
        "When the last compaction ended (Unix time).",
        last.at / 1000,
      );
      gauge(
        "ckpt_compaction_last_duration_seconds",
        "How long the last compaction took.",
        last.report.durationMs / 1000,
      );
      gauge(
        "ckpt_compaction_last_stages_touched",
        "Stages the last compaction compacted or removed.",
        last.report.stagesTouched,
      );
      gauge(
        "ckpt_compaction_last_events_removed",
        "Events the last compaction removed.",
        last.report.eventsRemoved,
      );
      if (last.report.bytesReclaimed !== null) {
        gauge(
          "ckpt_compaction_last_bytes_reclaimed",
          "Bytes the last compaction reclaimed on disk (may be negative).",
          last.report.bytesReclaimed,
        );
      }
    }
    return out.join("\n") + "\n";
  }
}

const esc = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
