/**
 * The CLI's own failures and its exit codes: usage problems (2) are told apart from failed
 * operations (1).
 */

export const ExitCode = {
  ok: 0,
  /** The operation failed: a CKPT error, a problem `verify` found, a stage that does not exist. */
  failure: 1,
  /**
   * The command line was wrong: unknown command or flag, bad value, missing --force off a terminal.
   */
  usage: 2,
  /** Interrupted (Ctrl+C) during a long operation: the shell's 128 + SIGINT. */
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A wrong command line (exit 2): one class for both executables, from runtime/flags.ts. */
export { UsageError } from "../runtime/flags.ts";

/** Thrown by long loops when Ctrl+C aborted the command's signal. */
export class Interrupted extends Error {
  constructor() {
    super("interrupted");
    this.name = "Interrupted";
  }
}
