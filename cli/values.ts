/**
 * Flag values: counts, durations ("7d") and points in a history (a revision, an ISO time, or "10m"
 * ago).
 */
import { checkStageName } from "../core/events.ts";
import { isDuration } from "../core/duration.ts";
import { durationValue } from "../runtime/flags.ts";
import { isCkptError } from "../core/errors.ts";
import { type ParsedArgs, str } from "./args.ts";
import { UsageError } from "./errors.ts";

/** Durations and counts are read the one way both executables read them (runtime/flags.ts). */
export { countValue as parseCount, durationValue as parseDuration } from "../runtime/flags.ts";

/** A point in a stage's history: a revision, or a moment in time (ms since epoch). */
export type Point = { revision: number } | { at: number };

/**
 * "42" is revision 42; "2026-11-23T10:00:00Z" (or any ISO date/time) is that moment;
 * "15m" or "2h" means that long before `now`.
 */
export function parsePoint(text: string, flag: string, command: string, now: number): Point {
  if (/^\d+$/.test(text)) return { revision: Number(text) };
  if (isDuration(text)) return { at: now - durationValue(text, flag, command) };
  const at = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(at)) {
    throw new UsageError(
      `${flag} expects a revision (42), an ISO time (2026-11-23T10:00:00Z) or a time ago (15m); got ${
        JSON.stringify(text)
      }.`,
      command,
    );
  }
  return { at };
}

/** The optional string flag parsed with `parse`, or undefined when absent. */
export function optional<T>(
  args: ParsedArgs,
  name: string,
  parse: (text: string, flag: string) => T,
): T | undefined {
  const v = str(args, name);
  return v === undefined ? undefined : parse(v, `--${name}`);
}

/** A stage name from the command line; a bad one is a usage error carrying core's CKPT_INVALID. */
export function stageName(text: string, command: string): string {
  try {
    return checkStageName(text);
  } catch (e) {
    if (isCkptError(e)) throw new UsageError(e.message, command, e.code);
    throw e;
  }
}
