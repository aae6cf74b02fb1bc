/**
 * A private view of a store for read-only commands. LevelDB cannot open read-only: every open
 * replays its log into a new table, writes a new MANIFEST and CURRENT and deletes the old files. So
 * a reader opens a copy in a temporary folder instead: tables (`.ldb`/`.sst`, immutable once
 * written) are hard-linked where the file system allows and copied otherwise; the log, MANIFEST,
 * CURRENT and ledger (small, and the files LevelDB rewrites) are always copied, so nothing LevelDB
 * writes in the view shares an inode with the store. The store is only read. A pipeline may hold
 * the store meanwhile: a file it deletes during the copy makes the copy start again, and a copy
 * that does not open while the store's files keep changing is taken again (levelLog).
 */
import { copyFile, link, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CkptError, ErrorCode } from "../../core/errors.ts";
import { retry } from "../../core/retry.ts";
import { isStoreFile } from "./folder.ts";
import { LEDGER_FILE } from "./ledger.ts";

const ATTEMPTS = 5;

export interface View {
  path: string;
  remove(): Promise<void>;
}

/**
 * Copies the store's files into `dst` (an existing folder): tables hard-linked where possible, the
 * rest copied.
 */
export async function copyStore(src: string, dst: string): Promise<void> {
  // The ledger before anything else: it lags the log, so every write it names is in the files
  // listed after it.
  await copyFile(join(src, LEDGER_FILE), join(dst, LEDGER_FILE)).catch((err: { code?: string }) => {
    if (err.code !== "ENOENT") throw err;
  });
  // CURRENT next: the MANIFEST it names is copied after it, so the copy never names a MANIFEST it
  // lacks.
  const names = (await readdir(src)).filter((n) =>
    isStoreFile(n) && !/^(LOCK|LOG|LOG\.old|CKPT-LEDGER(\.tmp)?)$/.test(n)
  );
  names.sort((a, b) => (a === "CURRENT" ? -1 : b === "CURRENT" ? 1 : 0));
  for (const name of names) {
    const from = join(src, name);
    const to = join(dst, name);
    if (/\.(ldb|sst)$/.test(name)) await link(from, to).catch(() => copyFile(from, to));
    else await copyFile(from, to);
  }
}

/** Copies (and links) the store's files into a new temporary folder. */
export async function makeView(src: string): Promise<View> {
  try {
    return await retry(async () => {
      const path = await mkdtemp(join(tmpdir(), "ckpt-view-"));
      const remove = () => rm(path, { recursive: true, force: true });
      try {
        await copyStore(src, path);
        return { path, remove };
      } catch (err) {
        await remove();
        throw err;
      }
    }, {
      attempts: ATTEMPTS,
      // A live writer removed a file between the listing and the copy: take the listing again.
      retryable: (err) => (err as { code?: string }).code === "ENOENT",
      backoff: false,
    });
  } catch (err) {
    throw new CkptError(
      ErrorCode.IO,
      `Cannot take a private copy of the store at ${src} to read it: ${
        (err as Error)?.message ?? err
      }`,
      { cause: err, details: { path: src } },
    );
  }
}
