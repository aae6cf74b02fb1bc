/**
 * What the sidecar answers before a request reaches the app: raw paths with dot segments (the URL
 * parser would silently resolve `/v1/stages/x/../y` to `/v1/stages/y`), and the replies Node's HTTP
 * parser makes on its own (malformed request 400, headers too large 431, request timeout 408), all
 * with the same `{"error":{"code":...}}` body as every other refusal.
 */
import { ErrorCode } from "../core/errors.ts";
import { HttpCode } from "./errors.ts";

/** True when the raw request target has a `.` or `..` segment, plain or percent-encoded. */
export function hasDotSegment(rawTarget: string | undefined): boolean {
  // Most targets have no dot or percent sign at all: no split, no regex per request.
  if (!rawTarget || (!rawTarget.includes(".") && !rawTarget.includes("%"))) return false;
  const path = rawTarget.split(/[?#]/, 1)[0]!;
  return path.split("/").some((seg) => /^(?:\.|%2e){1,2}$/i.test(seg));
}

export function dotSegmentResponse(): Response {
  return Response.json(
    {
      error: {
        code: ErrorCode.INVALID,
        message:
          'The path has a "." or ".." segment; send the stage or stream name itself (names never contain them as segments).',
      },
    },
    { status: 400 },
  );
}

/**
 * The bytes of a complete HTTP/1.1 reply for a parser-level refusal, keyed by Node's error code.
 */
export function rawErrorReply(nodeCode: string | undefined): string {
  const [status, reason, code, message] = nodeCode === "HPE_HEADER_OVERFLOW"
    ? [
      431,
      "Request Header Fields Too Large",
      HttpCode.TOO_LARGE,
      "The request headers are too large.",
    ]
    : nodeCode === "ERR_HTTP_REQUEST_TIMEOUT"
    ? [
      408,
      "Request Timeout",
      HttpCode.TIMEOUT,
      "The request was not fully sent in time (--request-timeout); send it again.",
    ]
    : [400, "Bad Request", ErrorCode.INVALID, "The request is not valid HTTP/1.1."];
  const body = JSON.stringify({ error: { code, message } });
  return `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${
    new TextEncoder().encode(body).length
  }\r\nconnection: close\r\n\r\n${body}`;
}
