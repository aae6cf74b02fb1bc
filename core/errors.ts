/** Errors with stable codes: callers and tests branch on `code`, never on the message. */

export const ErrorCode = {
  /** Another process (or another run in this process) holds the store or stage. */
  LOCKED: "CKPT_LOCKED",
  /** The log moved on since the writer last read it (optimistic concurrency). */
  CONFLICT: "CKPT_CONFLICT",
  /** The input a stage was started with changed between runs. */
  INPUT_CHANGED: "CKPT_INPUT_CHANGED",
  /** The config a stage was started with changed between runs. */
  CONFIG_CHANGED: "CKPT_CONFIG_CHANGED",
  /** An argument or event does not match its schema; nothing was written. */
  INVALID: "CKPT_INVALID",
  /** The stage (or store) does not exist. */
  NOT_FOUND: "CKPT_NOT_FOUND",
  /** The event is not allowed in the stage's current status. */
  BAD_TRANSITION: "CKPT_BAD_TRANSITION",
  /** Stored data failed to decode or does not add up. */
  CORRUPT: "CKPT_CORRUPT",
  /** The store, stage or run was closed. */
  CLOSED: "CKPT_CLOSED",
  /** Too many items done out of order beyond the contiguous watermark. */
  TOO_SPARSE: "CKPT_TOO_SPARSE",
  /** The underlying log failed (disk, network); the message names it. */
  IO: "CKPT_IO",
  /** A value is over its size limit (a state checkpoint, a request body); nothing was written. */
  TOO_LARGE: "CKPT_TOO_LARGE",
  /**
   * The disk is full: the store refuses every write until it is reopened with space free (nothing
   * acknowledged is lost).
   */
  NO_SPACE: "CKPT_NO_SPACE",
  /** The log cannot be reached (connection refused, DNS, TLS). */
  UNAVAILABLE: "CKPT_UNAVAILABLE",
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** One schema problem, as reported to callers (path into the input, and what is wrong). */
export interface Issue {
  path: (string | number)[];
  message: string;
}

/**
 * The one error class ckpt throws on purpose.
 * @example
 * try { await stage.begin({ input }) } catch (e) {
 *   if (e instanceof CkptError && e.code === "CKPT_INPUT_CHANGED") ...
 * }
 */
export class CkptError extends Error {
  readonly code: ErrorCode;
  readonly issues: Issue[] | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    extra: { cause?: unknown; issues?: Issue[]; details?: Record<string, unknown> } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = "CkptError";
    this.code = code;
    this.issues = extra.issues;
    this.details = extra.details;
  }
}

/** True when `e` is a CkptError, optionally with the given code. */
export function isCkptError(e: unknown, code?: ErrorCode): e is CkptError {
  return e instanceof CkptError && (code === undefined || e.code === code);
}
