/**
 * Which store a command talks to: a LevelDB folder (default), a ckpt-server sidecar, EventStoreDB, or
 * PostgreSQL (`--store postgres://…`).
 * Adapters other than LevelDB are imported on first use, so a missing one only breaks its own target.
 */
import { existsSync } from "node:fs";
import { CkptError, ErrorCode } from "../core/errors.ts";
import type { EventLog } from "../core/log.ts";
import { Store } from "../core/store.ts";
import { levelLog } from "../adapters/level.ts";
import { isPostgresUrl } from "../adapters/postgres/connection.ts";
import { redactUrl } from "../core/redact.ts";
import { open } from "../mod.ts";
import { runtimePlatform } from "../runtime/platform.ts";
import { str, type ParsedArgs } from "./args.ts";
import { UsageError } from "./errors.ts";

export type Target =
  | { kind: "level"; path: string }
  | { kind: "http"; url: string; token: string | undefined }
  | { kind: "eventstore"; connectionString: string }
  | { kind: "postgres"; url: string };

/** The flags every command that opens a store accepts. */
export const TARGET_FLAGS = {
  store: { type: "string", value: "<dir>", description: "LevelDB folder or postgres://user:pass@host/db URL (default: $CKPT_STORE, else ./.ckpt)" },
  url: { type: "string", value: "<url>", description: "a ckpt-server sidecar, e.g. http://127.0.0.1:7410" },
  token: { type: "string", value: "<token>", description: "bearer token for --url (default: $CKPT_TOKEN)" },
  eventstore: { type: "string", value: "<conn>", description: "EventStoreDB connection string (default: $CKPT_EVENTSTORE)" },
} as const;

/** Flags first, then env: an explicit flag always beats an env var, and two explicit targets are an error. */
export function resolveTarget(args: ParsedArgs, env: Readonly<Record<string, string | undefined>>, command: string): Target {
  const store = str(args, "store");
  const url = str(args, "url");
  const es = str(args, "eventstore");
  const given = [store && "--store", url && "--url", es && "--eventstore"].filter(Boolean);
  if (given.length > 1) throw new UsageError(`${given.join(" and ")} name different targets; give one.`, command);
  if (str(args, "token") !== undefined && !url && !env.CKPT_URL) throw new UsageError("--token only applies to --url.", command);
  if (url) return httpTarget(url, str(args, "token") ?? env.CKPT_TOKEN, command);
  if (es) return { kind: "eventstore", connectionString: es };
  if (isPostgresUrl(store)) return { kind: "postgres", url: store };
  if (store) return { kind: "level", path: store };
  if (env.CKPT_URL) return httpTarget(env.CKPT_URL, str(args, "token") ?? env.CKPT_TOKEN, command);
  if (env.CKPT_EVENTSTORE) return { kind: "eventstore", connectionString: env.CKPT_EVENTSTORE };
  if (isPostgresUrl(env.CKPT_STORE)) return { kind: "postgres", url: env.CKPT_STORE };
  return { kind: "level", path: env.CKPT_STORE || "./.ckpt" };
}

function httpTarget(url: string, token: string | undefined, command: string): Target {
  if (!/^https?:\/\/[^/]/.test(url)) throw new UsageError(`--url expects http://host:port or https://host; got ${JSON.stringify(url)}.`, command);
  return { kind: "http", url: url.replace(/\/+$/, ""), token: token || undefined };
}

/** The target for messages, without credentials. */
export function describeTarget(t: Target): string {
  switch (t.kind) {
    case "level":
      return t.path;
    case "http":
    case "postgres":
      return redactUrl(t.url);
    case "eventstore":
      return redactUrl(t.connectionString);
  }
}

/**
 * Opens the target. A LevelDB folder that does not exist is CKPT_NOT_FOUND unless `create`
 * (reading commands must not leave an empty store behind a typo).
 */
export async function openTarget(t: Target, options: { create?: boolean; readOnly?: boolean } = {}): Promise<Store> {
  switch (t.kind) {
    case "level":
      if (!options.create && !existsSync(t.path)) {
        throw new CkptError(
          ErrorCode.NOT_FOUND,
          `No ckpt store at ${t.path}. Point --store (or CKPT_STORE) at the folder your pipeline writes, or --url at a ckpt-server.`,
          { details: { path: t.path } },
        );
      }
      // Read-only: a private view of the files, so reading never writes a byte to the store (adapters/level/view.ts).
      if (options.readOnly) return new Store(await levelLog(t.path, { readOnly: true }), { platform: runtimePlatform });
      return open({ path: t.path });
    case "http": {
      const mod = await adapter("http.ts", "the ckpt-server client");
      // connectHttpLog asks the sidecar what its log supports (and checks URL and token) up front.
      const make = pickFactory(mod, ["connectHttpLog", "httpLog"], "adapters/http.ts");
      return new Store(await make({ url: t.url, ...(t.token ? { token: t.token } : {}) }), { platform: runtimePlatform });
    }
    case "eventstore": {
      const mod = await adapter("eventstoredb.ts", "the EventStoreDB adapter");
      const make = pickFactory(mod, ["eventStoreLog"], "adapters/eventstoredb.ts");
      return new Store(await make({ connectionString: t.connectionString }), { platform: runtimePlatform });
    }
    case "postgres": {
      const mod = await adapter("postgres.ts", "the PostgreSQL adapter");
      const make = pickFactory(mod, ["postgresLog"], "adapters/postgres.ts");
      return new Store(await make({ url: t.url }), { platform: runtimePlatform });
    }
  }
}

type Factory = (options: Record<string, unknown>) => EventLog | Promise<EventLog>;

async function adapter(file: string, what: string): Promise<Record<string, unknown>> {
  // A computed specifier: the module is loaded only for its own target, and a missing file fails only here.
  // A relative template, so the build's rewriteRelativeImportExtensions maps `.ts` to `.js` in dist/.
  try {
    return (await import(`../adapters/${file}`)) as Record<string, unknown>;
  } catch (err) {
    throw new CkptError(ErrorCode.UNAVAILABLE, `${what} (adapters/${file}) cannot be loaded: ${(err as Error)?.message ?? err}`, { cause: err });
  }
}

function pickFactory(mod: Record<string, unknown>, names: readonly string[], file: string): Factory {
  for (const n of names) if (typeof mod[n] === "function") return mod[n] as Factory;
  throw new CkptError(ErrorCode.UNAVAILABLE, `${file} exports none of ${names.join(", ")}; the CLI cannot open this target.`);
}
