/**
 * Every error LevelDB (classic-level) can raise, mapped to a ckpt code: a full disk is
 * CKPT_NO_SPACE, damage is CKPT_CORRUPT, a held lock is CKPT_LOCKED, anything else the disk said is
 * CKPT_IO. Nothing leaves the adapter uncoded.
 */
import { CkptError, ErrorCode } from "../../core/errors.ts";

interface LevelErr {
  code?: string;
  message?: string;
  cause?: LevelErr;
}

/** The innermost message (classic-level wraps the binding's error as `cause`). */
const messageOf = (
  e: LevelErr | undefined,
): string => (e?.cause?.message ? messageOf(e.cause) : e?.message ?? String(e));
const codes = (e: LevelErr | undefined): string[] => (e ? [e.code ?? "", ...codes(e.cause)] : []);

export const isNoSpace = (err: unknown): boolean => {
  const e = err as LevelErr;
  return codes(e).includes("ENOSPC") || /no space left|ENOSPC|disk quota/i.test(messageOf(e));
};

/**
 * The ckpt error for a LevelDB failure while doing `what` (a sentence fragment: "Appending to
 * \"fetch\"").
 * @example throw storageError("./.ckpt", "Reading \"fetch\"", err)
 */
export function storageError(path: string, what: string, err: unknown): CkptError {
  if (err instanceof CkptError) return err;
  const e = err as LevelErr;
  const all = codes(e);
  const msg = messageOf(e);
  const details = { path, cause: msg };
  if (all.includes("LEVEL_LOCKED")) {
    return new CkptError(
      ErrorCode.LOCKED,
      `The store at ${path} is open in another process (LevelDB allows one). To share it between processes, run \`npx ckpt-server --store ${path}\` and open({ url }) from each worker.`,
      { cause: err, details },
    );
  }
  if (isNoSpace(err)) {
    return new CkptError(
      ErrorCode.NO_SPACE,
      `${what} in the store at ${path} failed: the disk is full (${msg}). Free space, then close and reopen the store; writes stay refused until then.`,
      { cause: err, details },
    );
  }
  if (all.includes("LEVEL_CORRUPTION") || /corrupt|checksum|bad magic|missing files/i.test(msg)) {
    return new CkptError(
      ErrorCode.CORRUPT,
      `${what} in the store at ${path} failed: the files are damaged (${msg}). Run \`ckpt verify --store ${path}\`.`,
      { cause: err, details },
    );
  }
  if (all.includes("LEVEL_DATABASE_NOT_OPEN") || all.includes("LEVEL_DATABASE_NOT_CLOSED")) {
    return new CkptError(
      ErrorCode.CLOSED,
      `${what} in the store at ${path} failed: the store is closed.`,
      { cause: err, details },
    );
  }
  return new CkptError(ErrorCode.IO, `${what} in the store at ${path} failed: ${msg}`, {
    cause: err,
    details,
  });
}
