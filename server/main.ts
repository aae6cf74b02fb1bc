/**
 * ckpt-server's life: parse flags, open the log, serve (and compact on schedule), and on SIGTERM /
 * SIGINT stop accepting, stop compacting, finish requests in flight, pause runs it holds, flush and
 * close the store. Runtime specifics
 * (listening, signals) come in through `MainIo` from node.ts or deno.ts.
 */
import { readFile } from "node:fs/promises";
import { openLog, settleTarget } from "../adapters/open-log.ts";
import { describeTarget } from "../adapters/target.ts";
import type { EventLog } from "../core/log.ts";
import { DEFAULT_MIN_EVENTS } from "../core/retention.ts";
import { shutdown } from "../core/store.ts";
import { createApp, VERSION } from "./app.ts";
import type { CompactionSchedule } from "./compaction-schedule.ts";
import { describeCompaction } from "./compaction-notice.ts";
import { isLoopback, parseArgs, type ServerConfig, usage } from "./args.ts";
import { parseTokens, type TokenTable } from "./auth.ts";
import type { Listen, Listener } from "./listen.ts";
import { serverStore } from "./store.ts";

export type Signal = "SIGINT" | "SIGTERM";

export interface MainIo {
  listen: Listen;
  env: Readonly<Record<string, string | undefined>>;
  stdout(line: string): void;
  stderr(line: string): void;
  /** Calls `handler` on SIGINT / SIGTERM; returns a function that stops listening. */
  onSignal(handler: (signal: Signal) => void): () => void;
  /** Resolves once the sidecar listens (tests). */
  onListening?: (listener: Listener) => void;
}

const GRACE_MS = 10_000;

/**
 * Runs the sidecar until a signal; resolves with the exit code (0 after a clean stop, 2 for bad
 * usage, 1 for failures).
 */
export async function main(argv: readonly string[], io: MainIo): Promise<number> {
  const parsed = parseArgs(argv, io.env);
  if (parsed.kind === "help") return io.stdout(usage()), 0;
  if (parsed.kind === "version") return io.stdout(`ckpt-server ${VERSION}`), 0;
  if (parsed.kind === "error") return io.stderr(`ckpt-server: ${parsed.message}\n\n${usage()}`), 2;
  let config = parsed.config;

  let tokens: TokenTable;
  try {
    tokens = [
      ...(config.tokens ? parseTokens(config.tokens, "CKPT_TOKENS") : []),
      ...(config.tokensFile
        ? parseTokens(await readFile(config.tokensFile, "utf8"), config.tokensFile)
        : []),
    ];
  } catch (err) {
    return io.stderr(`ckpt-server: ${(err as Error).message}`), 2;
  }
  if (tokens.length === 0 && !isLoopback(config.host)) {
    io.stderr(
      `ckpt-server: refusing to listen on ${config.host} without tokens: anyone who can reach it could change or delete checkpoints.\n` +
        `Set CKPT_TOKENS="admin:<secret>,write:<secret>" or --tokens-file, or listen on 127.0.0.1.`,
    );
    return 2;
  }

  // A plain --store folder that holds a segment log is one: the banner says so.
  config = { ...config, target: settleTarget(config.target) };
  let log: EventLog;
  try {
    log = await openLog(config.target, {
      durability: config.durability,
      // A segment log writes on the threadpool here: the loop has other clients' requests to read
      // and answer while a commit is on disk (paired runs: more req/s and a lower p99 than writing
      // on the main thread).
      blockingWrites: false,
    });
  } catch (err) {
    return io.stderr(`ckpt-server: ${(err as Error).message}`), 1;
  }
  const store = serverStore(log);
  const say = (line: string) => config.quiet || io.stdout(line);
  const ckpt = createApp(store, {
    tokens,
    bodyLimit: config.bodyLimit,
    logBodyLimit: config.logBodyLimit,
    maxInFlight: config.maxInFlight,
    onError: (err) => io.stderr(`ckpt-server: unexpected error: ${(err as Error)?.stack ?? err}`),
    ...(config.compaction ? { compaction: config.compaction } : {}),
    onCompaction: (n) => {
      // A scheduled tick that found nothing past the policy stays quiet (every minute or hour,
      // forever); /metrics still counts it and shows when it last ran.
      if (n.kind === "report" && n.trigger === "schedule" && n.report.stagesTouched === 0) return;
      const line = `ckpt-server: ${describeCompaction(n)}`;
      if (n.kind === "failed") io.stderr(line);
      else say(line);
    },
  });
  let listener: Listener;
  try {
    listener = await io.listen(ckpt.fetch, {
      host: config.host,
      port: config.port,
      requestTimeoutMs: config.requestTimeoutMs,
      hot: ckpt.hot,
    });
  } catch (err) {
    await ckpt.drain(0); // clears the compaction schedule before the store closes
    await shutdown(store, "startup failed").catch(() => undefined);
    return io.stderr(
      `ckpt-server: cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`,
    ),
      1;
  }

  say(`ckpt-server ${VERSION} listening on ${listener.url}`);
  say(`  store: ${describeLog(config)}`);
  say(
    tokens.length > 0
      ? `  auth: ${tokens.length} bearer token(s): ${
        [...new Set(tokens.map((t) => t.role))].join(", ")
      }`
      : "  auth: none (no tokens configured), so listening on loopback only; set CKPT_TOKENS or --tokens-file to open it up",
  );
  say(
    `  compaction: ${
      config.compaction
        ? describeSchedule(config.compaction)
        : "on request only (POST /v1/compact); --compact-every schedules it"
    }`,
  );
  say(`  API: ${listener.url}/openapi.json`);
  io.onListening?.(listener);

  const signal = await new Promise<Signal>((resolve) => {
    const off = io.onSignal((s) => {
      off();
      resolve(s);
    });
  });
  say(`ckpt-server: ${signal}: finishing requests in flight, then closing the store…`);
  // A second signal while stopping does not cut the flush short; it only says so.
  const offAgain = io.onSignal(() => io.stderr("ckpt-server: still stopping (finishing writes)…"));
  try {
    await Promise.all([ckpt.drain(GRACE_MS), listener.close(GRACE_MS)]);
    await shutdown(store, `ckpt-server ${signal}`);
  } catch (err) {
    io.stderr(`ckpt-server: stopping failed: ${(err as Error).message}`);
    return 1;
  } finally {
    offAgain();
  }
  say("ckpt-server: stopped cleanly.");
  return 0;
}

function describeSchedule({ everyMs, policy: p }: CompactionSchedule): string {
  const parts = [
    p.maxAgeMs !== undefined && `max age ${ms(p.maxAgeMs)}`,
    p.maxEvents !== undefined && `keep ${p.maxEvents}`,
    `min ${p.minEvents ?? DEFAULT_MIN_EVENTS}`,
    p.stageTtlMs !== undefined && `stage TTL ${ms(p.stageTtlMs)}`,
  ].filter(Boolean);
  return `every ${ms(everyMs)} (${parts.join(", ")}), first run in ${ms(everyMs)}`;
}

/**
 * 3600000 → "1h": the largest unit that divides evenly, as the flags are usually written (7d, not
 * 1w).
 */
function ms(n: number): string {
  for (
    const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const
  ) {
    if (n >= size && n % size === 0) return `${n / size}${unit}`;
  }
  return `${n}ms`;
}

function describeLog({ target: t, durability }: ServerConfig): string {
  const at = describeTarget(t);
  if (t.kind === "memory") return "in memory (nothing survives a restart)";
  if (t.kind === "level") return `LevelDB at ${at} (durability ${durability})`;
  if (t.kind === "segments") return `segment log at ${t.path} (O_DSYNC, every commit on disk)`;
  return `${
    t.kind === "eventstore"
      ? "EventStoreDB"
      : t.kind === "postgres"
      ? "PostgreSQL"
      : "a ckpt-server"
  } at ${at}`;
}
