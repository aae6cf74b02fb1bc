/**
 * Graceful shutdown on SIGINT / SIGTERM: flush, record active runs as paused, close the store,
 * then exit (130 / 143, the shell's convention), on Node and on Deno.
 */
import process from "node:process";
import { shutdown, type Store } from "../core/store.ts";

interface DenoSignals {
  addSignalListener(signal: string, handler: () => void): void;
  removeSignalListener(signal: string, handler: () => void): void;
}

export interface SignalOptions {
  /** Called before exiting; default exits the process. Tests pass their own. */
  exit?: (code: number) => void;
  signals?: ("SIGINT" | "SIGTERM")[];
}

/**
 * Installs the handlers and returns a function that removes them.
 * @example const store = await open(); handleSignals(store)
 */
export function handleSignals(store: Store, options: SignalOptions = {}): () => void {
  const signals = options.signals ?? ["SIGINT", "SIGTERM"];
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let stopping = false;
  const handler = (signal: "SIGINT" | "SIGTERM") => {
    if (stopping) return; // a second Ctrl+C while flushing must not cut the flush short
    stopping = true;
    shutdown(store, signal).then(
      () => exit(signal === "SIGINT" ? 130 : 143),
      () => exit(1),
    );
  };
  const deno = (globalThis as { Deno?: DenoSignals }).Deno;
  const installed = signals.map((s) => {
    const h = () => handler(s);
    // Deno's node:process does not deliver signals to process.on(); its own API does.
    if (deno) {
      deno.addSignalListener(s, h);
      return () => deno.removeSignalListener(s, h);
    }
    process.on(s, h);
    return () => process.off(s, h);
  });
  return () => installed.forEach((off) => off());
}
