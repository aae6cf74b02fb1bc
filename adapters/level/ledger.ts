/**
 * The head kept apart: `CKPT-LEDGER` in the store folder records, for every stage, the last
 * revision LevelDB acknowledged and the chain value there. It lives outside LevelDB so that damage
 * which rolls LevelDB back (a cut or lost log, a table dropped by a damaged MANIFEST) cannot roll
 * it back too. It is rewritten (temp file, fsync, rename) at most every `LEDGER_DELAY_MS` and on
 * close, off the hot path: the writes of the last moments before a crash may be newer than the
 * ledger, and damage confined to them is not detected by it.
 */
import { open, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { CkptError, ErrorCode } from "../../core/errors.ts";

export const LEDGER_FILE = "CKPT-LEDGER";
export const LEDGER_DELAY_MS = 200;

export interface LedgerEntry {
  head: number;
  chain: string;
}

/**
 * The ledger as stored, or undefined when the store has none yet (new, or written by an older
 * ckpt).
 */
export async function readLedger(dir: string): Promise<Map<string, LedgerEntry> | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, LEDGER_FILE), "utf8");
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") return undefined;
    throw new CkptError(
      ErrorCode.IO,
      `Cannot read ${join(dir, LEDGER_FILE)}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  try {
    const parsed = JSON.parse(text) as { v: number; stages: Record<string, LedgerEntry> };
    if (parsed.v !== 1 || typeof parsed.stages !== "object") throw new Error("unknown format");
    return new Map(Object.entries(parsed.stages));
  } catch (err) {
    throw new CkptError(
      ErrorCode.CORRUPT,
      `The ledger ${join(dir, LEDGER_FILE)} is damaged (${
        (err as Error).message
      }). Run \`ckpt verify --repair --store ${dir}\`.`,
      {
        cause: err,
        details: { path: dir },
      },
    );
  }
}

/** Writes the ledger durably: a crash leaves either the old file or the new one. */
export async function writeLedger(
  dir: string,
  entries: ReadonlyMap<string, LedgerEntry>,
): Promise<void> {
  const tmp = join(dir, LEDGER_FILE + ".tmp");
  const fh = await open(tmp, "w");
  try {
    await fh.writeFile(JSON.stringify({ v: 1, stages: Object.fromEntries(entries) }));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, LEDGER_FILE));
}

/**
 * The live ledger of a store open for writing: noted after each acknowledged append, written
 * behind.
 */
export class Ledger {
  private dirty = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly dir: string,
    private readonly entries: Map<string, LedgerEntry>,
    /** A failed background write (a full disk): the store turns it into its sticky refusal. */
    private readonly onError: (err: unknown) => void,
  ) {}

  note(stream: string, head: number, chain: string): void {
    this.entries.set(stream, { head, chain });
    this.dirty = true;
    if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush().catch(this.onError);
      }, LEDGER_DELAY_MS);
      // A pending ledger write must not keep a finished process alive; close() writes it anyway.
      (this.timer as { unref?: () => void }).unref?.();
    }
  }

  /**
   * Before a stream is deleted: a crash after this write and before the delete leaves a stream the
   * ledger does not know, which is fine.
   */
  async forget(stream: string): Promise<void> {
    if (!this.entries.delete(stream)) return;
    this.dirty = true;
    await this.flush();
  }

  flush(): Promise<void> {
    this.writing = this.writing.catch(() => undefined).then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      try {
        await writeLedger(this.dir, this.entries);
      } catch (err) {
        this.dirty = true;
        throw err;
      }
    });
    return this.writing;
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
