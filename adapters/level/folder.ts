/**
 * What a store folder holds, read before LevelDB touches it: LevelDB creates a database wherever it
 * finds no CURRENT file, and would then delete every table it does not know — so a folder that
 * already holds store files but lost CURRENT must be refused, and a folder of unrelated files must
 * never become a store.
 */
import { readdir, stat } from "node:fs/promises";
import { CkptError, ErrorCode } from "../../core/errors.ts";

export type FolderKind = "absent" | "empty" | "store";

/** LevelDB's own file names (see leveldb/db/filename.cc) and ckpt's ledger. */
export const isStoreFile = (name: string) =>
  /^(CURRENT|LOCK|LOG|LOG\.old|MANIFEST-\d+|\d+\.(log|ldb|sst|dbtmp)|CKPT-LEDGER(\.tmp)?)$/.test(
    name,
  );
/** A folder of hard links an open keeps while LevelDB recovers (adapters/level/open.ts). */
export const LINKS = ".open-links";
export const isLinksFolder = (name: string) => name === LINKS || name.startsWith(`${LINKS}-`);
/**
 * Files LevelDB writes for itself that say nothing about data (an aborted first open leaves them).
 */
const isBookkeeping = (name: string) => name === "LOCK" || name === "LOG" || name === "LOG.old";

/**
 * "absent" (no folder) and "empty" may become a store; "store" has a CURRENT file. Anything else is
 * refused: store files without CURRENT are CKPT_CORRUPT (nothing is changed, `ckpt verify --repair`
 * rebuilds it), a folder of other files is CKPT_INVALID.
 */
export async function inspectFolder(path: string): Promise<{ kind: FolderKind; files: string[] }> {
  let names: string[];
  try {
    if (!(await stat(path)).isDirectory()) {
      throw new CkptError(ErrorCode.INVALID, `${path} is a file, not a store folder.`, {
        details: { path },
      });
    }
    names = await readdir(path);
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") return { kind: "absent", files: [] };
    if (err instanceof CkptError) throw err;
    throw new CkptError(
      ErrorCode.IO,
      `Cannot read the store folder ${path}: ${(err as Error).message}`,
      { cause: err, details: { path } },
    );
  }
  if (names.includes("CURRENT")) return { kind: "store", files: names };
  const data = names.filter((n) => isStoreFile(n) && !isBookkeeping(n));
  if (data.length > 0) {
    throw new CkptError(
      ErrorCode.CORRUPT,
      `The store at ${path} has lost its CURRENT file (it still holds ${
        data.join(", ")
      }). Nothing was changed. ` +
        `Run \`ckpt verify --repair --store ${path}\` to rebuild it from its tables and logs.`,
      { details: { path, files: data } },
    );
  }
  // damaged-*: evidence kept by ckpt; lost/: where LevelDB's repair archives what it could not use.
  const others = names.filter((n) =>
    !isStoreFile(n) && !n.startsWith("damaged-") && !isLinksFolder(n) && n !== "lost"
  );
  if (others.length > 0) {
    throw new CkptError(
      ErrorCode.INVALID,
      `${path} holds other files (${others.slice(0, 3).join(", ")}${
        others.length > 3 ? ", …" : ""
      }), not a ckpt store. Point the store at a new or empty folder.`,
      { details: { path } },
    );
  }
  return { kind: "empty", files: names };
}
