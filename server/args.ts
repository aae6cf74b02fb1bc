/**
 * ckpt-server's flags and environment variables, parsed without side effects (main.ts acts on them)
 * by the flag grammar `ckpt` uses too (runtime/flags.ts), and the target by adapters/target.ts.
 */
import { resolveTarget, type Target } from "../adapters/target.ts";
import { isCkptError } from "../core/errors.ts";
import type { RetentionPolicy } from "../core/retention.ts";
import { withoutUndefined } from "../core/validate.ts";
import {
  bool,
  bytesValue,
  countValue,
  durationValue,
  type FlagSpec,
  type FlagSpecs,
  parseArgs as parseFlags,
  UsageError,
  valueOf,
} from "../runtime/flags.ts";
import type { CompactionSchedule } from "./compaction-schedule.ts";

export interface ServerConfig {
  /** What the sidecar fronts, by the one rule of adapters/target.ts. */
  target: Target;
  durability: "sync" | "os";
  host: string;
  port: number;
  tokensFile: string | undefined;
  /**
   * CKPT_TOKENS: inline `role:token` list (never a flag: argv is visible to every user of the
   * machine).
   */
  tokens: string | undefined;
  bodyLimit: number;
  logBodyLimit: number;
  maxInFlight: number;
  /**
   * --request-timeout: how long a client may take to send one whole request before it is answered
   * 408.
   */
  requestTimeoutMs: number;
  /** --compact-every and its policy; undefined: nothing is scheduled. */
  compaction: CompactionSchedule | undefined;
  quiet: boolean;
}

export type Parsed =
  | { kind: "run"; config: ServerConfig }
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "error"; message: string };

const FLAG_LIST: readonly (FlagSpec & { name: string })[] = [
  {
    type: "string",
    name: "store",
    env: "CKPT_STORE",
    value: "<dir>",
    description:
      "LevelDB folder the sidecar owns, segments:<dir> for a segment log, or a postgres://user:pass@host/db URL",
    default: "./.ckpt",
  },
  {
    type: "boolean",
    name: "memory",
    env: "CKPT_MEMORY",
    description: "keep everything in memory (tests, demos); nothing survives a restart",
  },
  {
    type: "string",
    name: "eventstore",
    env: "CKPT_EVENTSTORE",
    value: "<conn>",
    description: "front EventStoreDB/KurrentDB instead, e.g. esdb://localhost:2113?tls=false",
  },
  {
    type: "string",
    name: "durability",
    env: "CKPT_DURABILITY",
    value: "sync|os",
    description: "sync: fsync per group commit; os: survives a process crash, not a power cut",
    default: "sync",
  },
  {
    type: "string",
    name: "host",
    env: "CKPT_HOST",
    value: "<addr>",
    description: "address to listen on (anything but loopback needs tokens)",
    default: "127.0.0.1",
  },
  {
    type: "string",
    name: "port",
    env: "CKPT_PORT",
    value: "<n>",
    description: "port to listen on (0 picks a free one)",
    default: "7410",
  },
  {
    type: "string",
    name: "tokens-file",
    env: "CKPT_TOKENS_FILE",
    value: "<file>",
    description: "bearer tokens, one `role:token` a line (roles: read, write, admin)",
  },
  {
    type: "string",
    name: "body-limit",
    env: "CKPT_BODY_LIMIT",
    value: "<bytes>",
    description: "largest JSON body of the /v1/stages API (k, m suffixes)",
    default: "1m",
  },
  {
    type: "string",
    name: "log-body-limit",
    env: "CKPT_LOG_BODY_LIMIT",
    value: "<bytes>",
    description: "largest raw-log append or snapshot (HTTP adapters' batches)",
    default: "32m",
  },
  {
    type: "string",
    name: "max-inflight",
    env: "CKPT_MAX_INFLIGHT",
    value: "<n>",
    description: "requests handled at once before 429",
    default: "512",
  },
  {
    type: "string",
    name: "request-timeout",
    env: "CKPT_REQUEST_TIMEOUT",
    value: "<duration>",
    description: "a request not fully sent by then is answered 408 (Node)",
    default: "30s",
  },
  {
    type: "string",
    name: "compact-every",
    env: "CKPT_COMPACT_EVERY",
    value: "<duration>",
    description: "also compact on a timer, e.g. 1h, with the policy below (off by default)",
  },
  {
    type: "string",
    name: "compact-max-age",
    env: "CKPT_COMPACT_MAX_AGE",
    value: "<duration>",
    description: "schedule: fold events older than this into the base snapshot, e.g. 7d",
  },
  {
    type: "string",
    name: "compact-keep",
    env: "CKPT_COMPACT_KEEP",
    value: "<n>",
    description: "schedule: keep at most n events per stage",
  },
  {
    type: "string",
    name: "compact-min",
    env: "CKPT_COMPACT_MIN",
    value: "<n>",
    description: "schedule: always keep the n most recent events per stage",
    default: "100",
  },
  {
    type: "string",
    name: "compact-stage-ttl",
    env: "CKPT_COMPACT_STAGE_TTL",
    value: "<duration>",
    description: "schedule: remove whole stages finished or idle for longer, e.g. 30d",
  },
  {
    type: "string",
    name: "compact-keep-checkpoints",
    env: "CKPT_COMPACT_KEEP_CHECKPOINTS",
    value: "<n>",
    description: "schedule: keep at most n state checkpoints per stage (never the latest)",
  },
  {
    type: "string",
    name: "compact-checkpoint-ttl",
    env: "CKPT_COMPACT_CHECKPOINT_TTL",
    value: "<duration>",
    description: "schedule: remove state checkpoints older than this (never the latest)",
  },
  {
    type: "boolean",
    name: "quiet",
    description: "print nothing but errors (compaction reports included)",
  },
  { type: "boolean", name: "help", short: "h", description: "show this help" },
  { type: "boolean", name: "version", description: "print the version" },
];

/** Every flag, by name: the spec runtime/flags.ts parses with (`env` and `default` included). */
export const FLAGS: FlagSpecs = Object.fromEntries(
  FLAG_LIST.map(({ name, ...spec }) => [name, spec]),
);

export function usage(): string {
  const rows = FLAG_LIST.map((f) => {
    const left = `  --${f.name}${f.value ? ` ${f.value}` : ""}`;
    const right = `${f.description}${f.default ? ` (default ${f.default})` : ""}${
      f.env ? ` [${f.env}]` : ""
    }`;
    return `${left.padEnd(34)}${right}`;
  });
  return [
    "Usage: ckpt-server [options]",
    "",
    "Holds one ckpt store and serves it over HTTP, so many worker processes share it:",
    '  workers: open({ url: "http://127.0.0.1:7410", token }) in TypeScript, or the JSON API (GET /openapi.json).',
    "",
    "Options (flags win over environment variables; two targets, as flags or as variables, are refused):",
    ...rows,
    "",
    "Environment only:",
    `  ${"CKPT_TOKENS".padEnd(32)}bearer tokens inline: "admin:s3cret,write:other,read:third"`,
    "",
    "Without tokens the sidecar has no auth, so it listens on loopback only.",
    "Durations: a number with ms, s, m, h, d or w (90s, 15m, 1h, 7d). The schedule's first compaction runs one",
    "interval after start; running stages are never compacted; POST /v1/compact (admin) compacts on demand.",
    "A scheduled compaction prints one line when it touches a stage; ticks with nothing to remove stay quiet.",
    "",
    "Examples:",
    "  npx ckpt-server --store ./.ckpt --port 7410",
    "  CKPT_TOKENS=admin:$(openssl rand -hex 16) npx ckpt-server --host 0.0.0.0",
    "  npx ckpt-server --compact-every 1h --compact-max-age 7d --compact-keep 100000",
  ].join("\n");
}

/**
 * Parses argv and env; flags win over env. Never throws: problems come back as `{ kind: "error" }`.
 */
export function parseArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Parsed {
  try {
    const args = parseFlags(argv, FLAGS, [], CMD);
    if (bool(args, "help")) return { kind: "help" };
    if (bool(args, "version")) return { kind: "version" };
    const get = (name: string) => valueOf(args, TARGET_FLAGS.has(name) ? NO_ENV : FLAGS, name, env);
    const durability = get("durability");
    if (durability !== "sync" && durability !== "os") {
      throw new UsageError(`--durability must be sync or os, got "${durability}"`, CMD);
    }
    // The target's variables (CKPT_STORE, CKPT_MEMORY, CKPT_EVENTSTORE) are read by the target
    // rule, not here.
    const target = resolveTarget(
      { path: get("store"), memory: bool(args, "memory"), eventstore: get("eventstore") },
      (n) => env[n],
      { serving: true, names: TARGET_NAMES },
    );
    const config: ServerConfig = {
      target,
      durability,
      host: get("host")!,
      port: countValue(get("port")!, "--port", CMD, 0, 65535),
      tokensFile: get("tokens-file"),
      tokens: env.CKPT_TOKENS,
      bodyLimit: bytesValue(get("body-limit")!, "--body-limit", CMD),
      logBodyLimit: bytesValue(get("log-body-limit")!, "--log-body-limit", CMD),
      maxInFlight: countValue(get("max-inflight")!, "--max-inflight", CMD, 1, 1_000_000),
      requestTimeoutMs: durationValue(get("request-timeout")!, "--request-timeout", CMD),
      compaction: compaction((name) => valueOf(args, FLAGS, name, env, false)),
      quiet: bool(args, "quiet"),
    };
    return { kind: "run", config };
  } catch (err) {
    if (err instanceof UsageError || isCkptError(err)) {
      return { kind: "error", message: err.message };
    }
    throw err;
  }
}

const CMD = "ckpt-server";
/** The target flags without their variables or default: those are the target rule's. */
const NO_ENV: FlagSpecs = {
  store: { type: "string", description: "" },
  eventstore: { type: "string", description: "" },
};
const TARGET_FLAGS = new Set(["store", "eventstore"]);
const TARGET_NAMES = { path: "--store", memory: "--memory", eventstore: "--eventstore" };

/** Minimum schedule interval: shorter would compact back to back. */
const MIN_EVERY_MS = 100;

/**
 * The schedule from --compact-* values; policy flags without --compact-every are a mistake, not
 * ignored.
 */
function compaction(given: (name: string) => string | undefined): CompactionSchedule | undefined {
  const every = given("compact-every");
  const policyFlags = [
    "compact-max-age",
    "compact-keep",
    "compact-min",
    "compact-stage-ttl",
    "compact-keep-checkpoints",
    "compact-checkpoint-ttl",
  ].filter((n) => given(n) !== undefined);
  if (every === undefined) {
    if (policyFlags.length > 0) {
      throw new UsageError(
        `--${
          policyFlags[0]
        } only sets the compaction schedule's policy: add --compact-every <duration> (e.g. 1h)`,
        CMD,
      );
    }
    return undefined;
  }
  const everyMs = durationValue(every, "--compact-every", CMD);
  if (everyMs < MIN_EVERY_MS) {
    throw new UsageError(`--compact-every must be at least ${MIN_EVERY_MS}ms, got "${every}"`, CMD);
  }
  const num = (
    n: string,
  ) => (given(n) === undefined ? undefined : countValue(given(n)!, `--${n}`, CMD));
  const ms = (
    n: string,
  ) => (given(n) === undefined ? undefined : durationValue(given(n)!, `--${n}`, CMD));
  const policy: RetentionPolicy = withoutUndefined({
    maxAgeMs: ms("compact-max-age"),
    maxEvents: num("compact-keep"),
    minEvents: num("compact-min"),
    stageTtlMs: ms("compact-stage-ttl"),
    keepCheckpoints: num("compact-keep-checkpoints"),
    checkpointTtlMs: ms("compact-checkpoint-ttl"),
  });
  const removes = [
    policy.maxAgeMs,
    policy.maxEvents,
    policy.stageTtlMs,
    policy.keepCheckpoints,
    policy.checkpointTtlMs,
  ];
  if (removes.every((v) => v === undefined)) {
    throw new UsageError(
      "--compact-every needs something to remove: --compact-max-age, --compact-keep, --compact-stage-ttl, --compact-keep-checkpoints or --compact-checkpoint-ttl (e.g. --compact-every 1h --compact-max-age 7d)",
      CMD,
    );
  }
  return { everyMs, policy };
}

/** Loopback addresses are only reachable from this machine. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
