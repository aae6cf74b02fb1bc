/**
 * Where a PostgreSQL log connects and how its failures read: the URL (or the standard PG*
 * variables), the name shown in messages (never with a password), and driver errors turned into
 * coded CkptErrors.
 */
import { CkptError, ErrorCode } from "../../core/errors.ts";

/** True for the URL forms the PostgreSQL adapter accepts (`postgres://` and `postgresql://`). */
export const isPostgresUrl = (s: string | undefined): s is string =>
  s !== undefined && /^postgres(ql)?:\/\//i.test(s);

/** `postgres://user:secret@host/db?x=1` → `postgres://user@host/db`: the one redaction (core/redact.ts). */
export { redactUrl } from "../../core/redact.ts";

/** The server described from the PG* variables, for messages when no URL is given. */
export function describeEnv(env: (name: string) => string | undefined): string {
  const host = env("PGHOST") ?? "localhost";
  const port = env("PGPORT") ?? "5432";
  const user = env("PGUSER");
  const db = env("PGDATABASE") ?? user ?? "postgres";
  return `postgres://${user ? `${user}@` : ""}${
    host.startsWith("/") ? encodeURIComponent(host) : host
  }:${port}/${db}`;
}

/** Every secret a message could carry, so `scrub` can cut it out of driver messages. */
export function secretsOf(
  url: string | undefined,
  env: (name: string) => string | undefined,
): string[] {
  const out: string[] = [];
  const pw = env("PGPASSWORD");
  if (pw) out.push(pw);
  if (url) {
    try {
      const p = new URL(url).password;
      if (p) out.push(p, decodeURIComponent(p));
    } catch {
      // An unparseable URL is refused before use; nothing to collect.
    }
  }
  return out.filter((s) => s.length > 0);
}

export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join("***");
  return out;
}

/** SQLSTATE or the socket's code (ECONNREFUSED, ECONNRESET, …). */
const codeOf = (e: unknown): string => String((e as { code?: unknown } | null)?.code ?? "");

/**
 * Failures after which the statement may or may not have committed, or that end by themselves
 * (server restarting, backend terminated, connection lost, statement timeout, serialization):
 * worth a retry once the adapter has checked what the server kept.
 */
export function isTransient(e: unknown): boolean {
  if (e instanceof CkptError) return false;
  const c = codeOf(e);
  // node-postgres reports a dropped socket by message only.
  const m = e instanceof Error ? e.message : "";
  if (
    !c &&
    /Connection terminated|connection error and is not queryable|timeout exceeded when trying to connect|Connection ended/i
      .test(m)
  ) return true;
  return (
    c.startsWith("08") || // connection_exception
    c === "57P01" || c === "57P02" || c === "57P03" || // admin/crash shutdown, cannot connect now
    c === "57014" || // query_canceled (statement_timeout)
    c === "40001" || c === "40P01" || // serialization failure, deadlock
    c === "53300" || // too_many_connections
    /^(ECONN|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN)/.test(c)
  );
}

export const isUniqueViolation = (e: unknown): boolean => codeOf(e) === "23505";

/**
 * The server connection does not hold the prepared statement the driver believes it prepared
 * (26000), or holds one by that name already (42P05): a pooler in transaction mode moved us to
 * another server connection. Raised at Parse or Bind, so the statement never ran.
 */
export const isPreparedStatementLost = (e: unknown): boolean =>
  codeOf(e) === "26000" || codeOf(e) === "42P05";

/**
 * Wraps anything the driver throws; CkptErrors pass through. Messages name `location`, never a
 * password.
 */
export function toCkptError(
  e: unknown,
  location: string,
  secrets: readonly string[],
  what: string,
): CkptError {
  if (e instanceof CkptError) return e;
  const c = codeOf(e);
  const detail = scrub(e instanceof Error ? e.message : String(e), secrets);
  const cause = { cause: e, details: { sqlstate: c || undefined } };
  if (c === "57014") {
    return new CkptError(
      ErrorCode.UNAVAILABLE,
      `PostgreSQL at ${location} cancelled ${what} (statement timeout): ${detail}. Nothing was written; retry, or raise statement_timeout.`,
      cause,
    );
  }
  if (isTransient(e)) {
    return new CkptError(
      ErrorCode.UNAVAILABLE,
      `PostgreSQL at ${location} is unavailable during ${what} (${detail}). Check that the server is running and reachable from here.`,
      cause,
    );
  }
  if (c === "28P01" || c === "28000") {
    return new CkptError(
      ErrorCode.UNAVAILABLE,
      `PostgreSQL at ${location} refused the login (${detail}). Check the user and password in the URL or PGUSER/PGPASSWORD.`,
      cause,
    );
  }
  if (c === "3D000") {
    return new CkptError(
      ErrorCode.NOT_FOUND,
      `PostgreSQL at ${location}: ${detail}. Create the database first (createdb) or name another one in the URL.`,
      cause,
    );
  }
  return new CkptError(
    ErrorCode.IO,
    `PostgreSQL at ${location} failed during ${what}: ${detail}`,
    cause,
  );
}
