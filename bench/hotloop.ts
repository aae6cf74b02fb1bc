/**
 * Figure 3: updates not awaited (`run.mark(i)` + one `flush()`), events/s with peak memory, beside
 * SQLite's best hand-batched loop.
 */
import { CKPT_LABEL, type CkptKind } from "./ckpt.ts";
import { runJson } from "./child.ts";
import { BATCHED_TX } from "./baseline-sqlite.ts";
import { type Spread, spread } from "./stats.ts";

/** What one round (one child process) reports. */
export interface HotRound {
  perSec: number;
  peakRss: number;
  /** Peak heap above the heap in use before the loop started. */
  heapGrowth: number;
  /** Events per physical write. */
  batch: number;
}

export interface HotResult {
  key: string;
  label: string;
  events: number;
  perSec: Spread;
  peakRssMB: Spread;
  heapGrowthMB: Spread;
  batch: Spread;
}

/**
 * Awaits only the promise `mark()` returns when the write path is behind, so the queue stays
 * bounded; each round is a fresh process.
 */
export async function hotLoops(
  o: { events: number; rounds: number; sqlite: boolean; progress: (line: string) => void },
): Promise<HotResult[]> {
  const kinds: Array<CkptKind | "sqlite"> = [
    "sync",
    "os",
    "memory",
    ...(o.sqlite ? (["sqlite"] as const) : []),
  ];
  const rounds = new Map<string, HotRound[]>(kinds.map((k) => [k, []]));
  for (let r = 0; r < o.rounds; r++) {
    for (let k = 0; k < kinds.length; k++) {
      const kind = kinds[(k + r) % kinds.length]!;
      const res = await runJson<HotRound>("bench/hot-child.ts", [kind, String(o.events)], {
        exposeGc: true,
        heapMiB: 8192,
      });
      rounds.get(kind)!.push(res);
      o.progress(
        `hot loop round ${r + 1}/${o.rounds} ${kind.padEnd(7)} ${
          Math.round(res.perSec).toLocaleString("en-US")
        } events/s, peak RSS ${Math.round(res.peakRss / 2 ** 20)} MiB`,
      );
    }
  }
  const MB = 2 ** 20;
  return kinds.map((kind) => {
    const rs = rounds.get(kind)!;
    return {
      key: kind === "sqlite" ? "baseline-sqlite-batched" : `ckpt-${kind}`,
      label: kind === "sqlite"
        ? `B: SQLite FULL, tx of ${BATCHED_TX.toLocaleString("en-US")}`
        : CKPT_LABEL[kind],
      events: o.events,
      perSec: spread(rs.map((x) => x.perSec)),
      peakRssMB: spread(rs.map((x) => x.peakRss / MB)),
      heapGrowthMB: spread(rs.map((x) => x.heapGrowth / MB)),
      batch: spread(rs.map((x) => x.batch)),
    };
  });
}
