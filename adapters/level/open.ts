/**
 * Opening a LevelDB store without ever making damage worse: the folder is inspected and the logs
 * are checked before LevelDB sees them; a store opened for writing keeps hard links to its files
 * while LevelDB recovers (recovery deletes the old log and any table the MANIFEST does not name),
 * so damage found after the open still has its evidence, moved to `damaged-<time>/`; a read-only
 * open works on a private view and leaves the store alone. An open refused because another process
 * holds the store is no damage: it leaves the folder as it was.
 */
import { link, mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { Level } from "level";
import { CkptError, ErrorCode } from "../../core/errors.ts";
import { storageError } from "./errors.ts";
import { inspectFolder, isLinksFolder, isStoreFile, LINKS } from "./folder.ts";
import { type LedgerEntry, readLedger } from "./ledger.ts";
import { type LogDamage, scanLogs } from "./logscan.ts";
import { makeView, type View } from "./view.ts";

type Bytes = Uint8Array;
/**
 * Links folders older than this are left from an open that was killed midway (an open takes
 * seconds), and are swept. A younger one may be another process's open in progress: the lock a
 * settled open holds does not tell, since that process may get it right after this one closes.
 */
export const STALE_LINKS_MS = 60 * 60 * 1000;

export interface OpenedLevel {
  db: Level<string, Bytes>;
  /** The ledger as it was when the store was opened (undefined: none yet). */
  ledger: Map<string, LedgerEntry> | undefined;
  /** Refuses the open: closes LevelDB, keeps the evidence, throws `err`. */
  refuse(err: CkptError): Promise<never>;
  /** The open checked out: drops the evidence links. */
  settle(): Promise<void>;
  /** Removes the private view of a read-only open (on close). */
  release(): Promise<void>;
}

export async function openLevel(path: string, readOnly: boolean): Promise<OpenedLevel> {
  const { kind, files } = await inspectFolder(path);
  if (readOnly && kind !== "store") {
    throw new CkptError(ErrorCode.NOT_FOUND, `No ckpt store at ${path}.`, { details: { path } });
  }
  if (kind === "store") {
    const damage = await scanLogs(path, files).catch((err: unknown) =>
      Promise.reject(storageError(path, "Checking the logs", err))
    );
    if (damage) throw damagedLog(path, damage);
  }
  let view: View | undefined;
  let links: string | undefined;
  if (readOnly) view = await makeView(path);
  else if (kind === "store") links = await keepLinks(path, files);
  const dir = view?.path ?? path;
  const db = new Level<string, Bytes>(dir, { keyEncoding: "utf8", valueEncoding: "view" });
  const release = async () => void (await view?.remove());
  const refuse = async (err: CkptError): Promise<never> => {
    await db.close().catch(() => undefined);
    await release();
    if (links && err.code === ErrorCode.LOCKED) {
      // LevelDB stopped at the lock and changed nothing: there is no evidence to keep, and links
      // kept would pin the holder's old files on disk after its compactions.
      await rm(links, { recursive: true, force: true }).catch(() => undefined);
    } else if (links) {
      const kept = join(path, `damaged-${new Date().toISOString().replace(/[:.]/g, "-")}`);
      const moved = await rename(links, kept).then(() => true, () => false);
      if (moved) err.message += ` The files as they were before this open are kept in ${kept}.`;
    }
    throw err;
  };
  try {
    await db.open({ createIfMissing: kind !== "store" });
  } catch (err) {
    return refuse(storageError(path, "Opening", err));
  }
  let ledger: Map<string, LedgerEntry> | undefined;
  try {
    ledger = await readLedger(dir);
  } catch (err) {
    return refuse(err as CkptError);
  }
  return {
    db,
    ledger,
    refuse,
    // A read-only open has no links and never holds the lock: it sweeps nothing.
    settle: async () => {
      if (!links) return;
      await rm(links, { recursive: true, force: true }).catch(() => undefined);
      await sweepStaleLinks(path);
    },
    release,
  };
}

/**
 * Hard links to every store file in `<path>/.open-links-<unique>`: LevelDB's recovery then only
 * removes one name of each. The folder is this open's own: a second process trying the same store
 * must not replace the links of an open in progress.
 */
async function keepLinks(path: string, files: readonly string[]): Promise<string | undefined> {
  const dir = join(path, `${LINKS}-${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}`);
  try {
    await mkdir(dir);
    for (const name of files) {
      if (isStoreFile(name) && !/^(LOCK|LOG|LOG\.old)$/.test(name)) {
        await link(join(path, name), join(dir, name));
      }
    }
    return dir;
  } catch {
    // A file system without hard links: the open goes on without evidence kept; the refusal itself
    // still holds.
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    return undefined;
  }
}

/**
 * Removes links folders that opens killed midway left behind (they pin old files on disk). Never
 * fails the open: a folder that cannot be removed now is tried again at the next open.
 */
async function sweepStaleLinks(path: string): Promise<void> {
  const names = await readdir(path).catch(() => [] as string[]);
  for (const name of names.filter(isLinksFolder)) {
    const dir = join(path, name);
    const age = await stat(dir).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (age > STALE_LINKS_MS) {
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
  }
}

function damagedLog(path: string, d: LogDamage): CkptError {
  const where = d.lastIntact
    ? ` The last intact write before it is stage "${d.lastIntact.stage}" revision ${d.lastIntact.revision}; what was written after it is in the damaged part.`
    : "";
  return new CkptError(
    ErrorCode.CORRUPT,
    `The store at ${path} is damaged: ${d.file} has ${d.problem} at byte ${d.offset}.${where} Nothing was opened or changed. ` +
      `Keep a copy of the folder, then run \`ckpt verify --repair --store ${path}\` to recover what can be recovered.`,
    {
      details: {
        path,
        file: d.file,
        offset: d.offset,
        ...(d.lastIntact ? { stage: d.lastIntact.stage, revision: d.lastIntact.revision } : {}),
      },
    },
  );
}

/**
 * The first stage whose acknowledged head (per the ledger) LevelDB no longer has, as a
 * CKPT_CORRUPT, or undefined.
 */
export async function ledgerProblem(
  path: string,
  ledger: ReadonlyMap<string, LedgerEntry>,
  headOf: (stream: string) => Promise<{ head: number; chain?: string } | undefined>,
): Promise<CkptError | undefined> {
  for (const [stage, want] of ledger) {
    const h = await headOf(stage);
    const have = h?.head ?? -1;
    let problem: string | undefined;
    if (have < want.head) {
      problem = `revisions ${
        have + 1
      }–${want.head} of stage "${stage}" were acknowledged but are missing (the store now ends at ${
        have < 0 ? "nothing" : `revision ${have}`
      })`;
    } else if (have === want.head && h?.chain !== undefined && h.chain !== want.chain) {
      problem =
        `stage "${stage}" at revision ${want.head} is not what was acknowledged (its checksum chain differs)`;
    }
    if (problem) {
      return new CkptError(
        ErrorCode.CORRUPT,
        `The store at ${path} is damaged: ${problem}. Run \`ckpt verify --repair --store ${path}\` to recover what can be recovered.`,
        {
          details: { path, stage, revision: have + 1 },
        },
      );
    }
  }
  return undefined;
}
