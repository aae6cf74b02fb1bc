/**
 * Peak RSS for the bench's rows: the kernel's high-water mark (VmHWM in /proc/<pid>/status), which,
 * unlike sampling, misses no spike. In the bench process the mark is reset before each measurement
 * (writing 5 to /proc/self/clear_refs, Linux ≥ 4.0), so a row's figure is the peak during that row,
 * not since the bench began. Elsewhere (no /proc, or a reset refused): the process's lifetime peak
 * (`process.resourceUsage().maxRSS`).
 */
import { readFileSync, writeFileSync } from "node:fs";
import process from "node:process";

/**
 * VmHWM of a process in bytes, or undefined when /proc cannot tell (not Linux, or the process is
 * gone).
 */
export function highWaterMark(pid: number | "self" = "self"): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

let resets = true;

/** Starts a new peak for this process: true when the kernel took the reset. */
export function resetPeak(): boolean {
  if (!resets) return false;
  try {
    writeFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    resets = false;
    return false;
  }
}

/** This process's peak RSS in bytes since the last resetPeak() (or since it started). */
export function peakRss(): number {
  return highWaterMark() ?? (process.resourceUsage?.().maxRSS ?? 0) * 1024;
}

/** Runs `f` and returns its result with the peak RSS while it ran. */
export async function withPeak<T>(f: () => Promise<T>): Promise<{ value: T; peakRss: number }> {
  resetPeak();
  const value = await f();
  return { value, peakRss: peakRss() };
}
