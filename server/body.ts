/**
 * Reading request bodies without trusting them: JSON content type only (415), a size cap checked
 * before and while reading (413), strict UTF-8 and JSON syntax (400). Nothing is parsed twice.
 */
import { ErrorCode } from "../core/errors.ts";
import { HttpCode, HttpError } from "./errors.ts";

/** How much of an oversized body is read and dropped before the connection is cut. */
const DISCARD_BYTES = 16 * 1024 * 1024;

const JSON_TYPE = /^application\/json[ \t]*(;[ \t]*charset="?utf-8"?[ \t]*)?$/i;
/** One strict decoder for every request: without `stream` a decode keeps no state between calls. */
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** Is `type` (a Content-Type header) JSON in UTF-8, the only body the API takes? */
export const isJsonType = (type: string | null | undefined): boolean =>
  typeof type === "string" && JSON_TYPE.test(type.trim());

/** The request's body as parsed JSON; `undefined` when the body is empty and `optional`. */
export async function readJson(req: Request, limit: number, optional = false): Promise<unknown> {
  const length = req.headers.get("content-length");
  const empty = length === "0" || (length === null && req.body === null);
  if (empty && optional) return undefined;
  const type = req.headers.get("content-type");
  if (!isJsonType(type)) {
    throw new HttpError(
      HttpCode.UNSUPPORTED_MEDIA_TYPE,
      `Send the body as JSON with "Content-Type: application/json" (got ${
        type === null ? "none" : JSON.stringify(type)
      }).`,
    );
  }
  if (length !== null && Number(length) > limit + DISCARD_BYTES) throw tooLarge(limit);
  // With a declared length the HTTP layer enforces it, so the runtime's one-shot read (no stream
  // machinery per request) is safe; without one, read chunk by chunk and stop at the cap.
  let bytes: Uint8Array;
  try {
    bytes = length !== null && Number(length) <= limit
      ? new Uint8Array(await req.arrayBuffer())
      : await readCapped(req, limit);
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw bodyCutShort();
  }
  return parseJsonBytes(bytes, limit, optional);
}

/**
 * The client went away (or timed out) mid-body: its refusal, not the sidecar's failure, so no error
 * log.
 */
export const bodyCutShort = (): HttpError =>
  new HttpError(
    ErrorCode.INVALID,
    "The request body ended before it was complete (the client disconnected or was too slow).",
  );

/**
 * A whole body, read: its size, strict UTF-8, JSON syntax and depth checked, then parsed
 * (`undefined` when empty and `optional`).
 */
export function parseJsonBytes(bytes: Uint8Array, limit: number, optional = false): unknown {
  if (bytes.length > limit) throw tooLarge(limit);
  if (bytes.length === 0) {
    if (optional) return undefined;
    throw new HttpError(
      ErrorCode.INVALID,
      "The request body is empty; this endpoint needs a JSON body.",
    );
  }
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw new HttpError(ErrorCode.INVALID, "The request body is not valid UTF-8.");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new HttpError(
      ErrorCode.INVALID,
      `The request body is not valid JSON: ${(err as Error).message}`,
    );
  }
  checkDepth(value);
  return value;
}

/**
 * Deepest nesting of objects and arrays a request body may have (the top-level value is depth 1).
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Refuses bodies nested deeper than MAX_JSON_DEPTH before anything recursive (schema checks,
 * encoding, the reducer's merges) sees them: those would run out of stack and fail halfway.
 * Iterative, so the check itself cannot overflow.
 */
function checkDepth(root: unknown): void {
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth > MAX_JSON_DEPTH) {
      throw new HttpError(
        ErrorCode.INVALID,
        `The request body is nested more than ${MAX_JSON_DEPTH} levels deep; flatten it (metadata and config too).`,
        {
          issues: [{ path: [], message: `nested deeper than ${MAX_JSON_DEPTH}` }],
        },
      );
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
    }
  }
}

/**
 * Reads at most `limit` bytes. Past it the rest is read and dropped (up to a bound) rather than
 * cut off, so the client gets to read the 413 instead of a reset connection.
 */
async function readCapped(req: Request, limit: number): Promise<Uint8Array> {
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  const discardUpTo = limit + DISCARD_BYTES;
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > discardUpTo) {
      await reader.cancel().catch(() => undefined);
      break;
    }
    if (size <= limit) chunks.push(value);
  }
  if (size > limit) throw tooLarge(limit);
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) out.set(c, at), (at += c.length);
  return out;
}

function tooLarge(limit: number): HttpError {
  return new HttpError(
    HttpCode.TOO_LARGE,
    `The request body is over this endpoint's limit of ${
      limit.toLocaleString("en-US")
    } bytes; send smaller batches or raise the limit (--body-limit / --log-body-limit).`,
  );
}
