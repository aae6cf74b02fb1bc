/** Turns @eventstore/db-client errors into CkptErrors whose messages name the server without its credentials. */
import { CkptError, ErrorCode } from "../../core/errors.ts";

/**
 * The client's error kinds (its `ErrorType`), read as strings so a second copy of the client would
 * still match.
 */
function kind(e: unknown): string | undefined {
  const type = (e as { type?: unknown } | null)?.type;
  return typeof type === "string" ? type : undefined;
}

export const isWrongExpectedVersion = (e: unknown): boolean => kind(e) === "wrong-expected-version";
export const isStreamNotFound = (e: unknown): boolean => kind(e) === "stream-not-found";
export const isStreamDeleted = (e: unknown): boolean => kind(e) === "stream-deleted";

/**
 * Failures after which the request may or may not have reached the server, so re-sending is how to
 * find out.
 */
export function isTransient(e: unknown): boolean {
  const k = kind(e);
  return k === "unavailable" || k === "deadline-exceeded" || k === "not-leader";
}

/** Wraps anything the client throws; CkptErrors pass through unchanged. */
export function toCkptError(e: unknown, location: string, stream: string): CkptError {
  if (e instanceof CkptError) return e;
  const detail = e instanceof Error ? e.message : String(e);
  const cause = { cause: e };
  if (isWrongExpectedVersion(e)) {
    const { expectedVersion, actualVersion } = e as {
      expectedVersion?: unknown;
      actualVersion?: unknown;
    };
    return new CkptError(
      ErrorCode.CONFLICT,
      `Stream "${stream}" moved on: expected ${String(expectedVersion)}, found ${
        String(actualVersion)
      } at ${location}. Read it again and retry.`,
      { ...cause, details: { expected: String(expectedVersion), actual: String(actualVersion) } },
    );
  }
  if (isTransient(e) || kind(e) === "timeout") {
    return new CkptError(
      ErrorCode.UNAVAILABLE,
      `EventStoreDB at ${location} is unavailable (${detail}). Check that the server is running and reachable from here.`,
      cause,
    );
  }
  if (isStreamDeleted(e)) {
    return new CkptError(
      ErrorCode.IO,
      `Stream "${stream}" was permanently deleted (tombstoned) at ${location}; use another stage name.`,
      cause,
    );
  }
  return new CkptError(
    ErrorCode.IO,
    `EventStoreDB at ${location} failed on "${stream}": ${detail}`,
    cause,
  );
}
