/**
 * SIGINT / SIGTERM on Node and on Deno: the one place that knows they differ. Imports nothing of
 * ckpt, so the CLI can listen before (or without) loading the store: `ckpt --version` stays cheap.
 */
import process from "node:process";

interface DenoSignals {
  addSignalListener(signal: string, handler: () => void): void;
  removeSignalListener(signal: string, handler: () => void): void;
}

export type StopSignal = "SIGINT" | "SIGTERM";

/** Calls `handler` on each of `signals` until the returned function is called. */
export function onSignals(
  signals: readonly StopSignal[],
  handler: (signal: StopSignal) => void,
): () => void {
  const deno = (globalThis as { Deno?: DenoSignals }).Deno;
  const installed = signals.map((s) => {
    const h = () => handler(s);
    // Deno's node:process does not deliver signals to process.on(); its own API does.
    if (deno) {
      deno.addSignalListener(s, h);
      return () => deno.removeSignalListener(s, h);
    }
    process.on(s, h);
    return () => void process.off(s, h);
  });
  return () => installed.forEach((off) => off());
}
