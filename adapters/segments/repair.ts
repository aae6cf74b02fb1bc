/**
 * `ckpt verify --repair` for a segment log: under the writer's lock, keeps a copy of the files as
 * they were in `damaged-<time>-before-repair/`, walks the current generation to its first damaged
 * frame (a checksum, a sequence number, an op or a page that does not decode, a lost header) and
 * cuts the log there: the rest of that segment is zeroed and later segments are removed. What lay
 * beyond the cut is told from the frames that still check out past the damage (found by trying
 * every byte offset), so the report says which revisions of which stage were lost, and which
 * deletes and truncates were undone. A lost or unreadable `SEGMENTS` marker is written again.
 */
import fs from "node:fs";
import { join } from "node:path";
import { CkptError, ErrorCode } from "../../core/errors.ts";
import type { RepairReport, StageRepair } from "../level/repair.ts";
import { crc32c } from "../level/chain.ts";
import { storageError } from "../level/errors.ts";
import { decodeOp, decodePage, type Op } from "./codec.ts";
import { inspectFolder, MARKER, readMarker, takeLock, writeMarker } from "./folder.ts";
import { HEADER, readHeader } from "./frame.ts";
import { scan } from "./recover.ts";
import { fsyncDir, listSegments, openSegment, readAll, segmentName } from "./segments.ts";

export type { RepairReport, StageRepair };

interface Seen {
  first: number;
  head: number;
}

/**
 * Repairs the segment log at `path` (see the header comment); CKPT_LOCKED while a writer holds it,
 * CKPT_NOT_FOUND where there is none. `ledger` is always true: the log is its own record of what
 * was acknowledged (a frame whose bytes are all gone cannot be counted, though).
 */
export async function repairSegments(path: string): Promise<RepairReport> {
  let gen: number | undefined;
  let markerOk = true;
  try {
    const found = inspectFolder(path);
    if (found.kind !== "log") {
      throw new CkptError(ErrorCode.NOT_FOUND, `No ckpt store at ${path}.`, { details: { path } });
    }
    gen = found.marker.generation;
  } catch (err) {
    // A lost or torn marker is what repair is for: the generation whose segments start at 1.
    if (!(err instanceof CkptError && err.code === ErrorCode.CORRUPT)) throw err;
    markerOk = false;
    const firsts = listSegments(path).filter((s) => s.n === 1).map((s) => s.gen);
    if (firsts.length === 0) throw err;
    gen = Math.max(...firsts);
  }
  const lock = await takeLock(path);
  const fds = new Map<number, number>();
  try {
    if (markerOk) gen = readMarker(path).generation;
    const numbers = listSegments(path).filter((s) => s.gen === gen).map((s) => s.n);
    const kept = join(
      path,
      `damaged-${new Date().toISOString().replace(/[:.]/g, "-")}-before-repair`,
    );
    fs.mkdirSync(kept, { recursive: true });
    if (fs.existsSync(join(path, MARKER))) {
      fs.copyFileSync(join(path, MARKER), join(kept, MARKER));
    }
    for (const n of numbers) {
      fs.copyFileSync(join(path, segmentName(gen!, n)), join(kept, segmentName(gen!, n)));
    }
    // Segments after a missing one cannot be reached: they are what is lost.
    const reach = numbers.findIndex((n, i) => n !== i + 1);
    const usable = reach < 0 ? numbers : numbers.slice(0, reach);
    for (const n of numbers) fds.set(n, openSegment(path, gen!, n));

    const before = new Map<string, Seen>();
    const apply = (op: Op, into: Map<string, Seen>) => {
      const s = into.get(op.s);
      if (op.k === "a" || op.k === "z") {
        const st = s ?? { first: op.r!, head: op.r! - 1 };
        if (op.k === "a") st.head = op.r! + op.n! - 1;
        else [st.first, st.head] = [op.r!, op.n!];
        into.set(op.s, st);
      } else if (op.k === "t" && s && op.r! > s.first) s.first = Math.min(op.r!, s.head + 1);
      else if (op.k === "d") into.delete(op.s);
    };
    let cut: { seg: number; at: number } | undefined;
    if (usable.length > 0) {
      const r = scan(usable, fds, (_n, _at, payload) => {
        const { op, pageAt } = decodeOp(payload);
        if (op.k === "a" && op.n! > 0) decodePage(payload.subarray(pageAt));
        apply(op, before);
      });
      if (r.damage) cut = { seg: r.damage.seg, at: r.damage.at };
      else if (reach >= 0) cut = { seg: numbers[reach]!, at: 0 };
    }

    // What lies past the cut: every frame that still checks out, wherever it starts.
    const after: Op[] = [];
    if (cut) {
      for (const n of numbers.filter((n) => n >= cut!.seg)) {
        const bytes = readAll(fds.get(n)!);
        for (let at = n === cut.seg ? cut.at + 1 : 0; at + HEADER <= bytes.length;) {
          const h = readHeader(bytes, at);
          if (
            h.kind === "ok" && at + HEADER + h.length <= bytes.length &&
            crc32c(bytes, at + HEADER, at + HEADER + h.length) === h.crc
          ) {
            try {
              after.push(decodeOp(bytes.subarray(at + HEADER, at + HEADER + h.length)).op);
            } catch { /* checks out but does not decode: nothing to count */ }
            at += HEADER + h.length;
          } else at++;
        }
      }
      // The cut: the rest of the damaged segment zeroed, later segments removed.
      const fd = fds.get(cut.seg)!;
      const size = fs.fstatSync(fd).size;
      fs.writeSync(fd, new Uint8Array(size - cut.at), 0, size - cut.at, cut.at);
      fs.fsyncSync(fd);
      for (const n of numbers.filter((n) => n > cut!.seg)) {
        fs.closeSync(fds.get(n)!);
        fds.delete(n);
        fs.rmSync(join(path, segmentName(gen!, n)));
      }
    }
    if (!markerOk) await writeMarker(path, gen!);
    await fsyncDir(path);
    return { kept, ledger: true, stages: report(before, after) };
  } catch (err) {
    throw storageError(path, "Repairing", err);
  } finally {
    for (const fd of fds.values()) fs.closeSync(fd);
    await lock.release().catch(() => undefined);
  }
}

function report(before: Map<string, Seen>, after: Op[]): StageRepair[] {
  const names = new Set([...before.keys(), ...after.map((o) => o.s)]);
  const stages: StageRepair[] = [];
  for (const stage of [...names].sort()) {
    const s = before.get(stage);
    const notes: string[] = [];
    let highest = s?.head ?? -1;
    for (const op of after.filter((o) => o.s === stage)) {
      if (op.k === "a" && op.n! > 0) highest = Math.max(highest, op.r! + op.n! - 1);
      if (op.k === "d") notes.push("a delete of the stage was in the damaged part: it is undone");
      if (op.k === "t") {
        notes.push(`a truncation to revision ${op.r} was in the damaged part: it is undone`);
      }
      if (op.k === "s") notes.push("a snapshot saved in the damaged part is lost");
    }
    const kept: [number, number] | null = s && s.head >= s.first ? [s.first, s.head] : null;
    const from = (s?.head ?? -1) + 1;
    stages.push({
      stage,
      kept,
      lost: highest >= from ? [from, highest] : null,
      historyLost: null,
      notes: [...new Set(notes)],
    });
  }
  return stages;
}
