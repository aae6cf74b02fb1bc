/**
 * Runs N concurrent async workers against a subject for a fixed time, each awaiting its own update,
 * and records every latency.
 */
import { percentile } from "./stats.ts";
import type { Subject } from "./subject.ts";

export interface DriveResult {
  perSec: number;
  updates: number;
  p50Ms: number;
  p99Ms: number;
  /** Updates per physical write, for subjects that batch. */
  group?: number;
}

const next = new WeakMap<Subject, number>();

export async function drive(subject: Subject, workers: number, ms: number): Promise<DriveResult> {
  subject.prepare?.(workers);
  subject.groupSize?.(); // reset the subject's counters
  let index = next.get(subject) ?? 0;
  let lat = new Float64Array(1 << 16);
  let n = 0;
  const record = (t: number) => {
    if (n === lat.length) {
      const grown = new Float64Array(lat.length * 2);
      grown.set(lat);
      lat = grown;
    }
    lat[n++] = t;
  };
  const start = performance.now();
  const end = start + ms;
  const worker = async () => {
    for (let t0 = performance.now(); t0 < end;) {
      await subject.update(index++);
      const t1 = performance.now();
      record(t1 - t0);
      t0 = t1;
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  const elapsed = performance.now() - start;
  next.set(subject, index);
  const group = subject.groupSize?.();
  return {
    perSec: (n / elapsed) * 1000,
    updates: n,
    p50Ms: percentile(lat, 0.5, n),
    p99Ms: percentile(lat, 0.99, n),
    ...(group === undefined ? {} : { group }),
  };
}
