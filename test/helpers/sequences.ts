/**
 * Random but valid event sequences for property tests: each event is one the current status allows.
 */
import type { CkptEvent } from "../../core/events.ts";
import { ALLOWED_FROM, evolve, initialState } from "../../core/state.ts";

let t = 1_000;
const ev = (e: Record<string, unknown>) => ({ v: 1, at: t++, ...e }) as CkptEvent;
const start = (runId: string, extra = {}) => ev({ type: "run.started", runId, ...extra });
const done = (index: number, outcome = "ok", extra = {}) =>
  ev({ type: "item", index, outcome, ...extra });

export function validSequence(choices: number[], indexes: number[]): CkptEvent[] {
  let s = initialState("p");
  const out: CkptEvent[] = [];
  const kinds: Array<(k: number) => CkptEvent> = [
    (k) => start(`r${k}`, { total: 50 }),
    (k) =>
      done(
        indexes[k % indexes.length]!,
        ["ok", "failed", "skipped"][k % 3]!,
        k % 4 === 0 ? { cost: 0.5 } : {},
      ),
    (k) => done(indexes[(k * 7) % indexes.length]!),
    (k) => ev({ type: "item.reopened", index: indexes[(k * 3) % indexes.length]! }),
    (k) => ev({ type: "progress", ok: k % 3, failed: k % 2 }),
    (k) => ev({ type: "unit", key: `u${k % 3}`, status: "running", page: k, records: 1 }),
    () => ev({ type: "paused" }),
    () => ev({ type: "resumed" }),
    () => ev({ type: "crash.detected" }),
    () => ev({ type: "completed" }),
    () => ev({ type: "failed", message: "x" }),
    () => ev({ type: "reset" }),
    (k) => ev({ type: "metadata", metadata: { k } }),
    (k) => ev({ type: "error", message: `e${k}`, retryable: true }),
  ];
  for (const c of choices) {
    const allowed = kinds.map((f) => f(c)).filter((e) => ALLOWED_FROM[e.type].includes(s.status));
    if (allowed.length === 0) continue;
    const e = allowed[c % allowed.length]!;
    s = evolve(s, e);
    out.push(e);
  }
  return out;
}
