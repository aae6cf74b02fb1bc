/**
 * What the sidecar's HTTP client needs beyond core/retry.ts to ride out a restart: which fetch
 * failures are worth another try (and whether the request may have been delivered), and whether an
 * append whose answer was lost had landed anyway.
 */
import { parseEvent } from "../core/events.ts";
import type { RecordedEvent } from "../core/log.ts";
import { sortedJson } from "../core/fingerprint.ts";

/** Default retry window: long enough for a sidecar restart (process start, LevelDB open). */
export const DEFAULT_RETRY_FOR_MS = 60_000;

/**
 * How a failed fetch went: never reached the sidecar (safe to resend anything), or may have (only
 * idempotent requests).
 */
export function failureKind(err: unknown): "refused" | "uncertain" | "fatal" {
  const e = err as {
    name?: string;
    cause?: { code?: string; message?: string; name?: string };
    code?: string;
    message?: string;
  };
  const text = `${e?.code ?? ""} ${e?.message ?? ""} ${e?.cause?.code ?? ""} ${
    e?.cause?.message ?? ""
  }`;
  if (/ECONNREFUSED|connection refused/i.test(text)) return "refused";
  if (e?.name === "TimeoutError" || e?.cause?.name === "TimeoutError") return "uncertain";
  // undici (Node's fetch) and Deno word a dropped connection differently; both are a TypeError.
  if (
    /ECONNRESET|EPIPE|UND_ERR_SOCKET|UND_ERR_CLOSED|other side closed|socket|connection (?:reset|closed|error)|broken pipe|fetch failed|error sending request|network/i
      .test(text)
  ) {
    return "uncertain";
  }
  return "fatal";
}

/** The same event, as the sidecar would store it (its schema normalises what the client sent). */
function canonical(value: unknown): string {
  let v = value;
  try {
    v = parseEvent(value);
  } catch {
    // Compared as sent: an event the schema refuses never landed anyway.
  }
  return sortedJson(v);
}

/** Do the stored events at the revisions an append expected to fill hold exactly what it sent? */
export function landed(
  sent: readonly unknown[],
  stored: readonly RecordedEvent[],
  firstRevision: number,
): boolean {
  if (stored.length !== sent.length) return false;
  return stored.every((r, i) =>
    r.revision === firstRevision + i && canonical(r.event) === canonical(sent[i])
  );
}
