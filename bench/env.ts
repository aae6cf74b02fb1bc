/** What runs the bench (Node or Deno, which machine) and how much memory it holds right now. */
import { cpus, loadavg, totalmem, type } from "node:os";
import process from "node:process";

export type RuntimeName = "node" | "deno";

export const runtime: RuntimeName = "Deno" in globalThis ? "deno" : "node";

/**
 * The 1-minute load average: other work on the machine skews every figure, so the output says how
 * busy it was.
 */
export const load1 = (): number => loadavg()[0] ?? 0;

export function machine(): {
  runtime: string;
  cpu: string;
  cores: number;
  memGiB: number;
  os: string;
} {
  const c = cpus();
  const version = runtime === "deno"
    ? `deno ${(globalThis as { Deno?: { version: { deno: string } } }).Deno!.version.deno}`
    : `node ${process.version}`;
  return {
    runtime: version,
    cpu: c[0]?.model.trim() ?? "unknown",
    cores: c.length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    os: type(),
  };
}

export interface Memory {
  rss: number;
  heapUsed: number;
}

export function memory(): Memory {
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed };
}

/**
 * Runs a full GC when the runtime exposes one (node --expose-gc), so memory readings start level.
 */
export function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
