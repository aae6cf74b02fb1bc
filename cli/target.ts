/**
 * Which store a command talks to, from its flags and the environment: adapters/target.ts decides
 * (the one rule the library and the sidecar follow too), this file names the flags and opens the
 * result.
 */
import { existsSync } from "node:fs";
import { openLog, settleTarget } from "../adapters/open-log.ts";
import { resolveTarget as resolve, type Target } from "../adapters/target.ts";
import { CkptError, ErrorCode, isCkptError } from "../core/errors.ts";
import { Store } from "../core/store.ts";
import { runtimePlatform } from "../runtime/platform.ts";
import { type ParsedArgs, str } from "./args.ts";
import { UsageError } from "./errors.ts";

export type { Target } from "../adapters/target.ts";
export { describeTarget } from "../adapters/target.ts";

/** The flags every command that opens a store accepts. */
export const TARGET_FLAGS = {
  store: {
    type: "string",
    value: "<dir>",
    description:
      "LevelDB folder, segments:<dir> (segment log) or postgres://user:pass@host/db URL (default: $CKPT_STORE, else ./.ckpt)",
  },
  url: {
    type: "string",
    value: "<url>",
    description: "a ckpt-server sidecar, e.g. http://127.0.0.1:7410 (default: $CKPT_URL)",
  },
  token: {
    type: "string",
    value: "<token>",
    description: "bearer token for --url (default: $CKPT_TOKEN)",
  },
  eventstore: {
    type: "string",
    value: "<conn>",
    description: "EventStoreDB connection string (default: $CKPT_EVENTSTORE)",
  },
} as const;

const NAMES = {
  path: "--store",
  url: "--url",
  eventstore: "--eventstore",
  memory: "CKPT_MEMORY",
  token: "--token",
};

/**
 * The command's target; a wrong or ambiguous one is a usage error (exit 2) carrying CKPT_INVALID.
 * A folder that holds a segment log is that segment log, prefix or not.
 */
export function resolveTarget(
  args: ParsedArgs,
  env: Readonly<Record<string, string | undefined>>,
  command: string,
): Target {
  try {
    return settleTarget(resolve(
      {
        path: str(args, "store"),
        url: str(args, "url"),
        eventstore: str(args, "eventstore"),
        token: str(args, "token"),
      },
      (n) => env[n],
      { names: NAMES },
    ));
  } catch (err) {
    if (isCkptError(err, ErrorCode.INVALID)) throw new UsageError(err.message, command, err.code);
    throw err;
  }
}

/**
 * Opens the target. A LevelDB or segment folder that does not exist is CKPT_NOT_FOUND unless
 * `create` (reading commands must not leave an empty store behind a typo).
 */
export async function openTarget(
  t: Target,
  options: { create?: boolean; readOnly?: boolean } = {},
): Promise<Store> {
  if ((t.kind === "level" || t.kind === "segments") && !options.create && !existsSync(t.path)) {
    throw new CkptError(
      ErrorCode.NOT_FOUND,
      `No ckpt store at ${t.path}. Point --store (or CKPT_STORE) at the folder your pipeline writes, or --url at a ckpt-server.`,
      { details: { path: t.path } },
    );
  }
  return new Store(await openLog(t, { readOnly: options.readOnly }), { platform: runtimePlatform });
}
