/**
 * SIGINT / SIGTERM on Node and on Deno (the one place that knows they differ), and the library's
 * graceful shutdown on them: flush, record active runs as paused, close the store, then exit
 * (130 / 143, the shell's convention). The CLI and the sidecar listen through `onSignals` too.
 */
import process from "node:process";
import { shutdown, type Store } from "../core/store.ts";

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

export interface SignalOptions {
  /** Called before exiting; default exits the process. Tests pass their own. */
  exit?: (code: number) => void;
  signals?: StopSignal[];
}

/**
 * Installs the handlers and returns a function that removes them.
 * @example const store = await open(); handleSignals(store)
 */
export function handleSignals(store: Store, options: SignalOptions = {}): () => void {
  const signals = options.signals ?? ["SIGINT", "SIGTERM"];
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let stopping = false;
  return onSignals(signals, (signal) => {
    if (stopping) return; // a second Ctrl+C while flushing must not cut the flush short
    stopping = true;
    shutdown(store, signal).then(
      () => exit(signal === "SIGINT" ? 130 : 143),
      () => exit(1),
    );
  });
}
