/**
 * The shape of a command (its spec for parsing and help, and its pure run function) and the flags
 * they share.
 */
import type { FlagSpecs, PositionalSpec } from "./args.ts";
import type { CommandFn } from "./context.ts";
import { TARGET_FLAGS } from "./target.ts";

export interface Command {
  name: string;
  /** One line for `ckpt --help`. */
  summary: string;
  positionals: readonly PositionalSpec[];
  flags: FlagSpecs;
  /** Paragraphs shown under the usage line in `ckpt <command> --help`. */
  details?: string;
  examples: readonly string[];
  /**
   * Every argument goes to `run` as a positional, unparsed (for `serve`, whose flags are the
   * sidecar's).
   */
  passthrough?: boolean;
  run: CommandFn;
}

export const HELP_FLAG = {
  help: { type: "boolean", short: "h", description: "show this help" },
} as const;
/** `--prefix`: list, report, compact, cleanup and watch narrow to stage names starting with it. */
export const PREFIX_FLAG = {
  prefix: {
    type: "string",
    value: "<text>",
    description: "only stages whose name starts with this",
  },
} as const;
export const JSON_FLAG = {
  json: { type: "boolean", description: "print JSON for scripts instead of text" },
} as const;
export const COLOR_FLAG = {
  "no-color": { type: "boolean", description: "no ANSI colour (also: NO_COLOR=1)" },
} as const;

/** Every command that reads or writes a store takes the target flags, colour and help. */
export const STORE_FLAGS = { ...TARGET_FLAGS, ...COLOR_FLAG, ...HELP_FLAG } as const;
