/**
 * `ckpt verify --repair` for a LevelDB folder: keeps a copy of the files as they were, lets LevelDB
 * rebuild what it can from its tables and logs (RepairDB: a lost CURRENT or MANIFEST, a damaged
 * log), then keeps each stage up to its last revision that still reads, links into the checksum
 * chain and follows without a gap — dropping what lies beyond, and snapshots ahead of it — and
 * writes a fresh ledger. Says exactly which revisions were lost, counting those the ledger says
 * were acknowledged.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { Level } from "level";
import { CkptError, ErrorCode } from "../../core/errors.ts";
import type { Snapshot } from "../../core/log.ts";
import { REDUCER_VERSION } from "../../core/state.ts";
import { storedFormat as F } from "../level.ts";
import { nextChain, unframe } from "./chain.ts";
import { storageError } from "./errors.ts";
import { inspectFolder } from "./folder.ts";
import { type LedgerEntry, readLedger, writeLedger } from "./ledger.ts";
import { copyStore } from "./view.ts";

type Bytes = Uint8Array;

export interface StageRepair {
  stage: string;
  /** Revisions kept, or null when nothing of the stage could be kept (it is removed). */
  kept: [number, number] | null;
  /**
   * Revisions lost (from, to), or null. `to` is the highest revision the store or its ledger knew
   * of.
   */
  lost: [number, number] | null;
  /**
   * Events lost whose effect a snapshot still holds: the state is right, the history of these
   * revisions is gone.
   */
  historyLost: [number, number] | null;
  /** What else was done: a snapshot dropped, a head rebuilt. */
  notes: string[];
}

export interface RepairReport {
  /** Where the files as they were before the repair are kept. */
  kept: string;
  /**
   * False when the ledger was missing or damaged: losses past what LevelDB still knew cannot be
   * told.
   */
  ledger: boolean;
  stages: StageRepair[];
}

interface Head {
  head: number;
  first: number;
  updatedAt: number;
  chain?: string;
}

export async function repairStore(path: string): Promise<RepairReport> {
  try {
    const { kind } = await inspectFolder(path);
    if (kind !== "store") {
      throw new CkptError(ErrorCode.NOT_FOUND, `No ckpt store at ${path}.`, { details: { path } });
    }
  } catch (err) {
    // A lost CURRENT is exactly what repair is for.
    if (!(err instanceof CkptError && err.code === ErrorCode.CORRUPT)) throw err;
  }
  await refuseIfHeld(path);
  let ledger: Map<string, LedgerEntry> | undefined;
  try {
    ledger = await readLedger(path);
  } catch {
    ledger = undefined;
  }
  const kept = join(
    path,
    `damaged-${new Date().toISOString().replace(/[:.]/g, "-")}-before-repair`,
  );
  await mkdir(kept, { recursive: true });
  await copyStore(path, kept);
  try {
    await (Level as unknown as { repair(p: string): Promise<void> }).repair(path);
  } catch (err) {
    throw storageError(path, "Repairing", err);
  }
  const db = new Level<string, Bytes>(path, { keyEncoding: "utf8", valueEncoding: "view" });
  try {
    await db.open({ createIfMissing: false });
  } catch (err) {
    throw storageError(path, "Opening the repaired store", err);
  }
  const pages = db.sublevel<string, Bytes>("e", { keyEncoding: "utf8", valueEncoding: "view" });
  const heads = db.sublevel<string, Bytes>("h", { keyEncoding: "utf8", valueEncoding: "view" });
  const snaps = db.sublevel<string, Bytes>("s", { keyEncoding: "utf8", valueEncoding: "view" });
  const fresh = new Map<string, LedgerEntry>();
  const stages: StageRepair[] = [];
  try {
    const names = new Set<string>(ledger?.keys() ?? []);
    for await (const key of heads.keys()) names.add(key);
    for await (const key of pages.keys()) names.add(key.slice(0, key.lastIndexOf(F.SEP)));
    for (const stage of [...names].sort()) {
      const r = await repairStage(stage, ledger?.get(stage));
      if (r.kept) fresh.set(stage, r.entry);
      stages.push(r.report);
    }
    await writeLedger(path, fresh);
  } catch (err) {
    throw storageError(path, "Repairing", err);
  } finally {
    await db.close().catch(() => undefined);
  }
  return { kept, ledger: ledger !== undefined, stages };

  /**
   * Pages of `stage` from revision `from` on that decode, start where the one before ended and link
   * into the chain. `before`: pages wholly before `from`; `after`: pages past the first break (to
   * delete); `seenTo`: the highest revision any page claims.
   */
  async function walk(stage: string, from: number) {
    let expected = from;
    let running: string | undefined;
    let broken = false;
    let seenTo = -1;
    const before: string[] = [];
    const after: string[] = [];
    for await (const [key, value] of pages.iterator({ gte: stage + F.SEP, lt: stage + F.END })) {
      const at = F.revisionOf(key);
      let n: number | undefined;
      try {
        n = F.page(value).length;
      } catch {
        n = undefined;
      }
      const end = at + (n ?? 1) - 1;
      seenTo = Math.max(seenTo, end);
      if (!broken && n !== undefined && end < from) {
        before.push(key);
        continue;
      }
      const { prev, payload } = unframe(value);
      // The first page kept by a compaction may start before `from`; every later one starts where
      // the last ended.
      const startsRight = at === expected || (expected === from && at < from);
      if (
        broken || n === undefined || !startsRight ||
        (prev !== undefined && running !== undefined && prev !== running)
      ) {
        broken = true;
        after.push(key);
        continue;
      }
      running = prev === undefined ? undefined : nextChain(prev, payload);
      expected = at + n;
    }
    return { last: expected - 1, running, before, after, seenTo };
  }

  async function repairStage(stage: string, known: LedgerEntry | undefined) {
    const notes: string[] = [];
    const rawHead = await heads.get(stage);
    let head: Head | undefined;
    try {
      head = rawHead === undefined ? undefined : F.value<Head>(rawHead);
    } catch {
      notes.push("its head record was damaged and is rebuilt from the events");
    }
    const snapshot = async (which: string): Promise<Snapshot | undefined | null> => {
      const raw = await snaps.get(which);
      if (raw === undefined) return undefined;
      try {
        const snap = F.value<Snapshot>(raw);
        const st = (snap?.state as { state?: { revision?: number } } | undefined)?.state;
        return snap.version === REDUCER_VERSION && st?.revision === snap.revision ? snap : null;
      } catch {
        return null;
      }
    };
    const base = await snapshot(stage + F.SEP + "base");
    let latest = await snapshot(stage);
    let first = head?.first ?? (base ? base.revision + 1 : 0);
    const batch = db.batch();
    const remove = async () => {
      for await (const key of pages.keys({ gte: stage + F.SEP, lt: stage + F.END })) {
        batch.del(key, { sublevel: pages });
      }
      batch.del(stage, { sublevel: heads });
      batch.del(stage, { sublevel: snaps });
      batch.del(stage + F.SEP + "base", { sublevel: snaps });
      await batch.write({ sync: true });
    };
    let w = await walk(stage, first);
    const highest = Math.max(head?.head ?? -1, known?.head ?? -1, w.seenTo, latest?.revision ?? -1);
    let historyLost: [number, number] | null = null;
    // Nothing of the stage can be kept: it goes whole, and the report says every revision was lost.
    const removed = async () => {
      await remove();
      return {
        kept: false as const,
        report: {
          stage,
          kept: null,
          lost: highest >= 0 ? ([0, highest] as [number, number]) : null,
          historyLost,
          notes,
        },
      };
    };
    if (w.last < highest && latest && latest.revision > w.last) {
      // The events break before the latest snapshot: the snapshot becomes the base, and what
      // follows it is kept.
      historyLost = [w.last + 1, latest.revision];
      first = latest.revision + 1;
      w = await walk(stage, first);
      for (const key of w.before) batch.del(key, { sublevel: pages });
      batch.put(stage + F.SEP + "base", F.pack(latest), { sublevel: snaps });
      notes.push(
        `the events of revisions ${historyLost[0]}–${
          historyLost[1]
        } were lost, but the snapshot at ${latest.revision} holds their effect: the state is kept, their history is not`,
      );
    } else if (first > 0 && !base) {
      notes.push(
        "its base snapshot (the state before its first stored event) is damaged or missing",
      );
      return await removed();
    }
    for (const key of w.after) batch.del(key, { sublevel: pages });
    const last = w.last;
    if (last < 0) {
      return await removed();
    }
    const lost: [number, number] | null = last < highest ? [last + 1, highest] : null;
    if (latest === null || (latest && latest.revision > last)) {
      batch.del(stage, { sublevel: snaps });
      notes.push(
        latest === null
          ? "its latest snapshot was damaged and is dropped (the state is replayed)"
          : `its latest snapshot (revision ${latest.revision}) ran ahead of what was kept and is dropped`,
      );
      latest = undefined;
    }
    const next: Head = {
      head: last,
      first,
      updatedAt: head?.updatedAt ?? Date.now(),
      ...(w.running ? { chain: w.running } : {}),
    };
    batch.put(stage, F.pack(next), { sublevel: heads });
    await batch.write({ sync: true });
    return {
      kept: true as const,
      entry: { head: last, chain: w.running ?? "" },
      report: {
        stage,
        kept: last >= first ? ([first, last] as [number, number]) : null,
        lost,
        historyLost,
        notes,
      },
    };
  }
}

/**
 * LevelDB's repair takes no lock, so a store a pipeline holds is refused first. LevelDB takes its
 * lock before it reads anything, and `errorIfExists` (or a missing CURRENT) stops the open right
 * after: nothing is recovered, so nothing a repair could salvage is consumed.
 */
async function refuseIfHeld(path: string): Promise<void> {
  const probe = new Level<string, Bytes>(path, { keyEncoding: "utf8", valueEncoding: "view" });
  try {
    await probe.open({ createIfMissing: false, errorIfExists: true });
    await probe.close();
  } catch (err) {
    const e = storageError(path, "Repairing", err);
    if (e.code === ErrorCode.LOCKED) throw e;
  }
}
