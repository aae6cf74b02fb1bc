/**
 * What one compaction run reports (scheduled or requested) and how it reads in the sidecar's log.
 * Its own file so the compactor and the metrics that count its runs both import it, not each other.
 */
import type { CkptError } from "../core/errors.ts";
import type { CompactionReport } from "../core/retention.ts";

export type Trigger = "schedule" | "request";

export type CompactionNotice =
  | { kind: "report"; trigger: Trigger; report: CompactionReport }
  | { kind: "failed"; trigger: Trigger; error: unknown }
  | { kind: "skipped"; trigger: Trigger; reason: string }
  /** A graceful shutdown stopped it between two stages: not a failure, the next run carries on. */
  | { kind: "stopped"; trigger: Trigger; error: CkptError };

/**
 * One line for the sidecar's log, e.g. "compaction (schedule): 2 of 5 stages touched, 700 events
 * removed, 1.2 MiB reclaimed, 41 ms".
 */
export function describeCompaction(n: CompactionNotice): string {
  if (n.kind === "skipped") return `compaction (${n.trigger}) skipped: ${n.reason}`;
  if (n.kind === "stopped") return `compaction (${n.trigger}) stopped: ${n.error.message}`;
  if (n.kind === "failed") {
    return `compaction (${n.trigger}) failed: ${(n.error as Error)?.message ?? String(n.error)}`;
  }
  const r = n.report;
  const deleted = r.stagesDeleted > 0 ? ` (${r.stagesDeleted} deleted)` : "";
  const reclaimed = r.bytesReclaimed === null
    ? "bytes reclaimed unknown"
    : `${formatBytes(r.bytesReclaimed)} reclaimed`;
  return `compaction (${n.trigger}): ${r.stagesTouched} of ${r.stages.length} stages touched${deleted}, ${r.eventsRemoved} events removed, ${reclaimed}, ${r.durationMs} ms`;
}

function formatBytes(n: number): string {
  const sign = n < 0 ? "-" : "";
  const a = Math.abs(n);
  if (a < 1024) return `${sign}${a} B`;
  if (a < 1024 * 1024) return `${sign}${(a / 1024).toFixed(1)} KiB`;
  return `${sign}${(a / 1024 / 1024).toFixed(1)} MiB`;
}
