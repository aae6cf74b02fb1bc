/**
 * Which log to open, decided in one place for the library (`open()`), the CLI (`--store`, `--url`,
 * `--eventstore`) and the sidecar (`--store`, `--memory`, `--eventstore`). The one rule:
 * a target named explicitly (option or flag) wins over the environment; two named explicitly are
 * CKPT_INVALID, and so are two named by the environment (CKPT_STORE, CKPT_MEMORY, CKPT_URL,
 * CKPT_EVENTSTORE): never silently ranked. Nothing named: the LevelDB folder ./.ckpt.
 * A `postgres://` URL (as the store or the url) is PostgreSQL; a store `segments:<dir>` is a segment
 * log. Pure: adapters/open-log.ts opens it, and there (settleTarget) a plain folder that already
 * holds a segment log's `SEGMENTS` marker becomes a segment target, so reading tools need no prefix.
 */
import { CkptError, ErrorCode } from "../core/errors.ts";
import { redactUrl } from "../core/redact.ts";
import { isPostgresUrl } from "./postgres/connection.ts";

export type Target =
  | { kind: "level"; path: string }
  | { kind: "segments"; path: string }
  | { kind: "memory" }
  | { kind: "http"; url: string; token: string | undefined }
  | { kind: "eventstore"; connectionString: string }
  | { kind: "postgres"; url: string };

/** What the caller named: `open()`'s options, or the flags (--store is `path`). */
export interface TargetChoice {
  path?: string | undefined;
  memory?: boolean | undefined;
  url?: string | undefined;
  eventstore?: string | undefined;
  /** Not a target: the bearer token for `url` (else $CKPT_TOKEN); refused with any other target. */
  token?: string | undefined;
}

type Key = "path" | "memory" | "url" | "eventstore";

/** The environment variable behind each target. */
export const TARGET_ENV: Readonly<Record<Key, string>> = {
  path: "CKPT_STORE",
  memory: "CKPT_MEMORY",
  url: "CKPT_URL",
  eventstore: "CKPT_EVENTSTORE",
};

export const DEFAULT_STORE = "./.ckpt";

/** The store prefix that names a segment log (adapters/segments.ts): `segments:./data`. */
export const SEGMENTS_PREFIX = "segments:";

export interface ResolveOptions {
  /**
   * The sidecar: CKPT_URL tells its clients where it is, so neither that nor `url` is a target for
   * it.
   */
  serving?: boolean;
  /**
   * How the inputs are called in messages (default: the option names; the CLI and sidecar pass
   * their flags).
   */
  names?: Partial<Record<Key | "token", string>>;
}

/**
 * The target `choice` and `env` name, or CKPT_INVALID.
 * @example resolveTarget({}, (n) => process.env[n]) // { kind: "level", path: "./.ckpt" } with no CKPT_* set
 */
export function resolveTarget(
  choice: TargetChoice,
  env: (name: string) => string | undefined,
  o: ResolveOptions = {},
): Target {
  const keys: Key[] = o.serving
    ? ["path", "memory", "eventstore"]
    : ["path", "memory", "url", "eventstore"];
  const name = (k: Key | "token") => o.names?.[k] ?? k;
  const set = (
    k: Key,
    v: unknown,
  ) => (k === "memory" ? v === true : typeof v === "string" && v !== "");
  const explicit = keys.filter((k) => set(k, choice[k]));
  if (explicit.length > 1) throw two(explicit.map(name).join(" and "), "");
  let picked: TargetChoice = choice;
  if (explicit.length === 0) {
    const memory = env(TARGET_ENV.memory);
    const fromEnv: TargetChoice = {
      path: env(TARGET_ENV.path),
      memory: memory !== undefined && /^(true|1)$/i.test(memory),
      url: env(TARGET_ENV.url),
      eventstore: env(TARGET_ENV.eventstore),
    };
    const named = keys.filter((k) => set(k, fromEnv[k]));
    if (named.length > 1) {
      throw two(named.map((k) => TARGET_ENV[k]).join(" and "), " in the environment");
    }
    picked = fromEnv;
  }
  const target = pick(picked, keys, name);
  if (choice.token !== undefined && target.kind !== "http") {
    throw invalidTarget(`${name("token")} only applies to a ckpt-server ${name("url")}.`, "token");
  }
  return target.kind === "http"
    ? { ...target, token: choice.token || env("CKPT_TOKEN") || undefined }
    : target;
}

function pick(c: TargetChoice, keys: readonly Key[], name: (k: Key) => string): Target {
  const has = (k: Key) =>
    keys.includes(k) &&
    (k === "memory" ? c.memory === true : typeof c[k] === "string" && c[k] !== "");
  if (has("memory")) return { kind: "memory" };
  if (has("eventstore")) return { kind: "eventstore", connectionString: c.eventstore! };
  if (has("url")) {
    if (isPostgresUrl(c.url)) return { kind: "postgres", url: c.url };
    const url = c.url!;
    if (!/^https?:\/\/[^/]/.test(url)) {
      throw invalidTarget(
        `${name("url")} expects http://host:port or https://host; got ${
          JSON.stringify(redactUrl(url))
        }.`,
        "url",
      );
    }
    return { kind: "http", url: url.replace(/\/+$/, ""), token: undefined };
  }
  const path: string = has("path") ? c.path! : DEFAULT_STORE;
  if (path.startsWith(SEGMENTS_PREFIX)) {
    const dir = path.slice(SEGMENTS_PREFIX.length);
    if (dir === "") {
      throw invalidTarget(
        `${name("path")} ${SEGMENTS_PREFIX} needs a folder: segments:./data.`,
        "path",
      );
    }
    return { kind: "segments", path: dir };
  }
  return isPostgresUrl(path) ? { kind: "postgres", url: path } : { kind: "level", path };
}

function two(names: string, where: string): CkptError {
  return invalidTarget(`${names} name different targets${where}; give one.`, "target");
}

function invalidTarget(message: string, field: string): CkptError {
  return new CkptError(ErrorCode.INVALID, message, { issues: [{ path: [field], message }] });
}

/** The target for messages, logs and banners: never with a password, token or query. */
export function describeTarget(t: Target): string {
  switch (t.kind) {
    case "level":
      return t.path;
    case "segments":
      return `${SEGMENTS_PREFIX}${t.path}`;
    case "memory":
      return "memory";
    case "eventstore":
      return redactUrl(t.connectionString);
    case "http":
    case "postgres":
      return redactUrl(t.url);
  }
}
