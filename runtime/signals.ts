/**
 * The library's graceful shutdown on SIGINT / SIGTERM: flush, record active runs as paused, close
 * the store, then exit (130 / 143, the shell's convention). Listening itself is `onSignals`
 * (runtime/os-signals.ts), which the CLI and the sidecar use directly.
 */
import process from "node:process";
import { shutdown, type Store } from "../core/store.ts";
import { onSignals, type StopSignal } from "./os-signals.ts";

export { onSignals, type StopSignal } from "./os-signals.ts";

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
