/** ckpt-server's flags and environment variables, parsed without side effects (main.ts acts on them). */
import { resolveTarget, type Target } from "../adapters/target.ts";
import { parseDuration } from "../core/duration.ts";
import type { RetentionPolicy } from "../core/retention.ts";
import type { CompactionSchedule } from "./compaction-schedule.ts";

export interface ServerConfig {
  /** What the sidecar fronts, by the one rule of adapters/target.ts. */
  target: Target;
  durability: "sync" | "os";
  host: string;
  port: number;
  tokensFile: string | undefined;
  /** CKPT_TOKENS: inline `role:token` list (never a flag: argv is visible to every user of the machine). */
  tokens: string | undefined;
  bodyLimit: number;
  logBodyLimit: number;
  maxInFlight: number;
  /** --request-timeout: how long a client may take to send one whole request before it is answered 408. */
  requestTimeoutMs: number;
  /** --compact-every and its policy; undefined: nothing is scheduled. */
  compaction: CompactionSchedule | undefined;
  quiet: boolean;
}

export type Parsed = { kind: "run"; config: ServerConfig } | { kind: "help" } | { kind: "version" } | { kind: "error"; message: string };

interface Flag {
  name: string;
  env?: string;
  value?: string;
  description: string;
  default?: string;
}

export const FLAGS: readonly Flag[] = [
  { name: "store", env: "CKPT_STORE", value: "<dir>", description: "LevelDB folder the sidecar owns, or a postgres://user:pass@host/db URL", default: "./.ckpt" },
  { name: "memory", env: "CKPT_MEMORY", description: "keep everything in memory (tests, demos); nothing survives a restart" },
  { name: "eventstore", env: "CKPT_EVENTSTORE", value: "<conn>", description: "front EventStoreDB/KurrentDB instead, e.g. esdb://localhost:2113?tls=false" },
  { name: "durability", env: "CKPT_DURABILITY", value: "sync|os", description: "sync: fsync per group commit; os: survives a process crash, not a power cut", default: "sync" },
  { name: "host", env: "CKPT_HOST", value: "<addr>", description: "address to listen on (anything but loopback needs tokens)", default: "127.0.0.1" },
  { name: "port", env: "CKPT_PORT", value: "<n>", description: "port to listen on (0 picks a free one)", default: "7410" },
  { name: "tokens-file", env: "CKPT_TOKENS_FILE", value: "<file>", description: "bearer tokens, one `role:token` a line (roles: read, write, admin)" },
  { name: "body-limit", env: "CKPT_BODY_LIMIT", value: "<bytes>", description: "largest JSON body of the /v1/stages API (k, m suffixes)", default: "1m" },
  { name: "log-body-limit", env: "CKPT_LOG_BODY_LIMIT", value: "<bytes>", description: "largest raw-log append or snapshot (HTTP adapters' batches)", default: "32m" },
  { name: "max-inflight", env: "CKPT_MAX_INFLIGHT", value: "<n>", description: "requests handled at once before 429", default: "512" },
  { name: "request-timeout", env: "CKPT_REQUEST_TIMEOUT", value: "<duration>", description: "a request not fully sent by then is answered 408 (Node)", default: "30s" },
  { name: "compact-every", env: "CKPT_COMPACT_EVERY", value: "<duration>", description: "also compact on a timer, e.g. 1h, with the policy below (off by default)" },
  { name: "compact-max-age", env: "CKPT_COMPACT_MAX_AGE", value: "<duration>", description: "schedule: fold events older than this into the base snapshot, e.g. 7d" },
  { name: "compact-keep", env: "CKPT_COMPACT_KEEP", value: "<n>", description: "schedule: keep at most n events per stage" },
  { name: "compact-min", env: "CKPT_COMPACT_MIN", value: "<n>", description: "schedule: always keep the n most recent events per stage", default: "100" },
  { name: "compact-stage-ttl", env: "CKPT_COMPACT_STAGE_TTL", value: "<duration>", description: "schedule: remove whole stages finished or idle for longer, e.g. 30d" },
  { name: "compact-keep-checkpoints", env: "CKPT_COMPACT_KEEP_CHECKPOINTS", value: "<n>", description: "schedule: keep at most n state checkpoints per stage (never the latest)" },
  { name: "compact-checkpoint-ttl", env: "CKPT_COMPACT_CHECKPOINT_TTL", value: "<duration>", description: "schedule: remove state checkpoints older than this (never the latest)" },
  { name: "quiet", description: "print nothing but errors (compaction reports included)" },
  { name: "help", description: "show this help" },
  { name: "version", description: "print the version" },
];

export function usage(): string {
  const rows = FLAGS.map((f) => {
    const left = `  --${f.name}${f.value ? ` ${f.value}` : ""}`;
    const right = `${f.description}${f.default ? ` (default ${f.default})` : ""}${f.env ? ` [${f.env}]` : ""}`;
    return `${left.padEnd(34)}${right}`;
  });
  return [
    "Usage: ckpt-server [options]",
    "",
    "Holds one ckpt store and serves it over HTTP, so many worker processes share it:",
    '  workers: open({ url: "http://127.0.0.1:7410", token }) in TypeScript, or the JSON API (GET /openapi.json).',
    "",
    "Options (flags win over environment variables):",
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

/** Parses argv and env; flags win over env. Never throws: problems come back as `{ kind: "error" }`. */
export function parseArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Parsed {
  const given = new Map<string, string>();
  // The target's variables are read by the target rule (adapters/target.ts), not here.
  for (const f of FLAGS) if (f.env && !TARGET_FLAGS.has(f.name) && env[f.env] !== undefined && env[f.env] !== "") given.set(f.name, env[f.env]!);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "-h") return { kind: "help" };
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    const flag = m && FLAGS.find((f) => f.name === m[1]);
    if (!m || !flag) return { kind: "error", message: `unknown ${arg.startsWith("-") ? "option" : "argument"} "${arg}"` };
    if (flag.name === "help") return { kind: "help" };
    if (flag.name === "version") return { kind: "version" };
    if (!flag.value) {
      if (m[2] !== undefined && !/^(true|false|1|0)$/.test(m[2])) return { kind: "error", message: `--${flag.name} takes no value` };
      given.set(flag.name, m[2] ?? "true");
      continue;
    }
    const value = m[2] ?? argv[++i];
    if (value === undefined || (m[2] === undefined && value.startsWith("--"))) return { kind: "error", message: `--${flag.name} needs a value ${flag.value}` };
    given.set(flag.name, value);
  }
  try {
    const get = (name: string) => given.get(name) ?? FLAGS.find((f) => f.name === name)?.default;
    const bool = (name: string) => /^(true|1)$/i.test(given.get(name) ?? "false");
    const durability = get("durability");
    if (durability !== "sync" && durability !== "os") throw new Error(`--durability must be sync or os, got "${durability}"`);
    const target = resolveTarget({ path: given.get("store"), memory: bool("memory"), eventstore: given.get("eventstore") }, (n) => env[n], { serving: true, names: TARGET_NAMES });
    const config: ServerConfig = {
      target,
      durability,
      host: get("host")!,
      port: integer("port", get("port")!, 0, 65535),
      tokensFile: given.get("tokens-file"),
      tokens: env.CKPT_TOKENS,
      bodyLimit: bytes("body-limit", get("body-limit")!),
      logBodyLimit: bytes("log-body-limit", get("log-body-limit")!),
      maxInFlight: integer("max-inflight", get("max-inflight")!, 1, 1_000_000),
      requestTimeoutMs: duration("request-timeout", get("request-timeout")!),
      compaction: compaction(given),
      quiet: bool("quiet"),
    };
    return { kind: "run", config };
  } catch (err) {
    return { kind: "error", message: (err as Error).message };
  }
}

const TARGET_FLAGS = new Set(["store", "memory", "eventstore"]);
const TARGET_NAMES = { path: "--store", memory: "--memory", eventstore: "--eventstore" };

/** Minimum schedule interval: shorter would compact back to back. */
const MIN_EVERY_MS = 100;

/** The schedule from --compact-* values; policy flags without --compact-every are a mistake, not ignored. */
function compaction(given: ReadonlyMap<string, string>): CompactionSchedule | undefined {
  const every = given.get("compact-every");
  const policyFlags = ["compact-max-age", "compact-keep", "compact-min", "compact-stage-ttl", "compact-keep-checkpoints", "compact-checkpoint-ttl"].filter((n) => given.has(n));
  if (every === undefined) {
    if (policyFlags.length > 0) throw new Error(`--${policyFlags[0]} only sets the compaction schedule's policy: add --compact-every <duration> (e.g. 1h)`);
    return undefined;
  }
  const everyMs = duration("compact-every", every);
  if (everyMs < MIN_EVERY_MS) throw new Error(`--compact-every must be at least ${MIN_EVERY_MS}ms, got "${every}"`);
  const num = (n: string) => integer(n, given.get(n)!, 0, Number.MAX_SAFE_INTEGER);
  const policy: RetentionPolicy = {
    ...(given.has("compact-max-age") ? { maxAgeMs: duration("compact-max-age", given.get("compact-max-age")!) } : {}),
    ...(given.has("compact-keep") ? { maxEvents: num("compact-keep") } : {}),
    ...(given.has("compact-min") ? { minEvents: num("compact-min") } : {}),
    ...(given.has("compact-stage-ttl") ? { stageTtlMs: duration("compact-stage-ttl", given.get("compact-stage-ttl")!) } : {}),
    ...(given.has("compact-keep-checkpoints") ? { keepCheckpoints: num("compact-keep-checkpoints") } : {}),
    ...(given.has("compact-checkpoint-ttl") ? { checkpointTtlMs: duration("compact-checkpoint-ttl", given.get("compact-checkpoint-ttl")!) } : {}),
  };
  const removes = [policy.maxAgeMs, policy.maxEvents, policy.stageTtlMs, policy.keepCheckpoints, policy.checkpointTtlMs];
  if (removes.every((v) => v === undefined)) {
    throw new Error("--compact-every needs something to remove: --compact-max-age, --compact-keep, --compact-stage-ttl, --compact-keep-checkpoints or --compact-checkpoint-ttl (e.g. --compact-every 1h --compact-max-age 7d)");
  }
  return { everyMs, policy };
}

/** The same grammar as `ckpt compact` and the library (core/duration.ts). */
function duration(name: string, text: string): number {
  try {
    return parseDuration(text);
  } catch (e) {
    throw new Error(`--${name} must be a duration like 90s, 15m, 1h or 7d, got "${text}"`, { cause: e });
  }
}

function integer(name: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new Error(`--${name} must be an integer from ${min} to ${max}, got "${text}"`);
  return Number(text);
}

function bytes(name: string, text: string): number {
  const m = /^(\d+)\s*(k|kb|kib|m|mb|mib)?$/i.exec(text.trim());
  if (!m) throw new Error(`--${name} must be a size in bytes, like 1048576 or 1m, got "${text}"`);
  const unit = m[2] ? (m[2][0]!.toLowerCase() === "k" ? 1024 : 1024 * 1024) : 1;
  const n = Number(m[1]) * unit;
  if (n < 1024) throw new Error(`--${name} must be at least 1k, got "${text}"`);
  return n;
}

/** Loopback addresses are only reachable from this machine. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
