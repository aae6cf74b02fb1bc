/** The expected-revision check every single-process adapter makes before it writes. */
import { CkptError, ErrorCode } from "../core/errors.ts";
import type { ExpectedRevision } from "../core/log.ts";

/** Throws CKPT_CONFLICT unless `head` (undefined: no stream) matches `expected`. */
export function checkExpected(
  stream: string,
  expected: ExpectedRevision,
  head: number | undefined,
  location: string,
): void {
  if (expected === "any") return;
  if (expected === "no_stream" ? head === undefined : head === expected) return;
  throw new CkptError(
    ErrorCode.CONFLICT,
    `Stream "${stream}" in ${location} is at ${
      head === undefined ? "no stream" : `revision ${head}`
    }, but the writer expected ${
      expected === "no_stream" ? "no stream" : `revision ${expected}`
    }. Another writer got there first; reload and retry.`,
    { details: { stream, expected, actual: head ?? "no_stream" } },
  );
}
