/**
 * Loaded with `node --import`: on exit, appends this process's peak RSS (bytes) to
 * $CKPT_BENCH_RSS_FILE. Read from VmHWM in /proc/self/status (this image's own high-water mark):
 * `resourceUsage().maxRSS` keeps the high-water mark from before exec, so a child spawned by the
 * big bench process would report the bench's memory, not its own. Elsewhere it falls back to maxRSS.
 */
import { appendFileSync, readFileSync } from "node:fs";
import process from "node:process";

function peakRssBytes() {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux: below
  }
  return process.resourceUsage().maxRSS * 1024;
}

process.on("exit", () => appendFileSync(process.env.CKPT_BENCH_RSS_FILE, `${peakRssBytes()}\n`));
