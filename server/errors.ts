/** One table from error codes to HTTP statuses, and the one JSON error body every failure uses. */
import { CkptError, ErrorCode, type Issue } from "../core/errors.ts";
import type { ErrorResponse } from "../protocol/common.ts";

/** Codes only the sidecar gives (auth, limits, transport), beside core's ErrorCode. */
export const HttpCode = {
  UNAUTHORIZED: "CKPT_UNAUTHORIZED",
  FORBIDDEN: "CKPT_FORBIDDEN",
  TOO_LARGE: "CKPT_TOO_LARGE",
  UNSUPPORTED_MEDIA_TYPE: "CKPT_UNSUPPORTED_MEDIA_TYPE",
  BUSY: "CKPT_BUSY",
  NOT_IMPLEMENTED: "CKPT_NOT_IMPLEMENTED",
  INTERNAL: "CKPT_INTERNAL",
  /**
   * A held run's client was silent past its lease: the run was released, and another client may own
   * the stage now.
   */
  LEASE_LOST: "CKPT_LEASE_LOST",
  /** The client sent its request too slowly (--request-timeout). */
  TIMEOUT: "CKPT_TIMEOUT",
} as const;
export type HttpCode = (typeof HttpCode)[keyof typeof HttpCode];

/** Every code the sidecar can answer with, and its HTTP status. */
export const STATUS_OF: Readonly<Record<ErrorCode | HttpCode, number>> = {
  [ErrorCode.INVALID]: 400,
  [HttpCode.UNAUTHORIZED]: 401,
  [HttpCode.FORBIDDEN]: 403,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.CONFLICT]: 409,
  [ErrorCode.LOCKED]: 409,
  [ErrorCode.INPUT_CHANGED]: 409,
  [ErrorCode.CONFIG_CHANGED]: 409,
  [ErrorCode.BAD_TRANSITION]: 409,
  [ErrorCode.TOO_SPARSE]: 409,
  [HttpCode.LEASE_LOST]: 409,
  [HttpCode.TIMEOUT]: 408,
  [HttpCode.TOO_LARGE]: 413,
  [HttpCode.UNSUPPORTED_MEDIA_TYPE]: 415,
  [HttpCode.BUSY]: 429,
  [ErrorCode.IO]: 500,
  [ErrorCode.CORRUPT]: 500,
  [ErrorCode.NO_SPACE]: 507,
  [HttpCode.INTERNAL]: 500,
  [HttpCode.NOT_IMPLEMENTED]: 501,
  [ErrorCode.CLOSED]: 503,
  [ErrorCode.UNAVAILABLE]: 503,
};

/**
 * The one JSON error body, as protocol/ defines it (the HTTP adapter parses it with the same
 * schema).
 */
export type ErrorBody = ErrorResponse;

/**
 * A refusal decided by the HTTP layer (auth, limits, media type), thrown and rendered like a
 * CkptError.
 */
export class HttpError extends Error {
  constructor(
    readonly code: HttpCode | ErrorCode,
    message: string,
    readonly extra: {
      issues?: Issue[];
      headers?: Record<string, string>;
      details?: Record<string, unknown>;
    } = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/**
 * Status, headers and body for any thrown value; unknown errors become a 500 that reveals nothing.
 */
export function errorResponse(
  err: unknown,
): { status: number; body: ErrorBody; headers: Record<string, string>; internal: boolean } {
  if (err instanceof HttpError || err instanceof CkptError) {
    const issues = err instanceof HttpError ? err.extra.issues : err.issues;
    const details = err instanceof HttpError ? err.extra.details : err.details;
    const body: ErrorBody = {
      error: {
        code: err.code,
        message: err.message,
        ...(issues ? { issues } : {}),
        ...(details ? { details } : {}),
      },
    };
    const headers = err instanceof HttpError ? err.extra.headers ?? {} : {};
    return { status: STATUS_OF[err.code] ?? 500, body, headers, internal: false };
  }
  return {
    status: 500,
    body: {
      error: {
        code: HttpCode.INTERNAL,
        message: "The sidecar failed unexpectedly; its log has the details.",
      },
    },
    headers: {},
    internal: true,
  };
}
