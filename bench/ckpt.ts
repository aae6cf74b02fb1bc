/**
 * ckpt itself as a bench subject: a store on LevelDB (sync or os durability), on the
 * segment log (adapters/segments.ts, issue 20) or in memory, one run,
 * `await run.done(i)` per update.
 */
import { segmentLog } from "../adapters/segments.ts";
import { type EventLog, levelLog, memoryLog, open, type Run, type Store } from "../mod.ts";
import { groupMeter, type Subject } from "./subject.ts";
import { du, removeDir, tempDir } from "./tmp.ts";

export type CkptKind = "sync" | "os" | "memory" | "segments" | "segments-threadpool";

export const CKPT_LABEL: Record<CkptKind, string> = {
  sync: "ckpt LevelDB sync",
  os: "ckpt LevelDB os",
  memory: "ckpt memory",
  segments: "ckpt segment log",
  "segments-threadpool": "ckpt segment log, threadpool writes",
};

/** Wraps a log to count appends and the events they carry (the group-commit size). */
export function counting(log: EventLog): EventLog & { appends: number; events: number } {
  const counted = Object.create(log) as EventLog & { appends: number; events: number };
  counted.appends = 0;
  counted.events = 0;
  counted.append = (stream, events, options) => {
    counted.appends++;
    counted.events += events.length;
    return log.append(stream, events, options);
  };
  return counted;
}

export interface OpenedCkpt {
  store: Store;
  run: Run;
  log: ReturnType<typeof counting>;
  dir: string | undefined;
}

/** A fresh store with one running stage, on a temp folder (or in memory). */
export async function openCkpt(kind: CkptKind, name = "bench"): Promise<OpenedCkpt> {
  const dir = kind === "memory" ? undefined : tempDir(kind);
  const log = counting(
    kind === "memory" || dir === undefined
      ? memoryLog()
      : kind === "segments"
      ? await segmentLog(dir) // as `segments:<dir>` opens it: writes on the main thread
      : kind === "segments-threadpool"
      ? await segmentLog(dir, { blocking: false })
      : await levelLog(dir, { durability: kind }),
  );
  const store = await open({ log });
  const run = await store.stage(name).begin({ total: 1_000_000_000 });
  return { store, run, log, dir };
}

export async function ckptSubject(kind: CkptKind): Promise<Subject> {
  const { store, run, log, dir } = await openCkpt(kind);
  return {
    label: CKPT_LABEL[kind],
    key: `ckpt-${kind}`,
    update: (i) => run.done(i),
    groupSize: groupMeter(log),
    async close(): Promise<Record<string, number>> {
      const written = run.state.revision + 1;
      await run.complete();
      await store.close();
      if (dir === undefined) return { events: written };
      const bytes = du(dir);
      removeDir(dir);
      return { events: written, bytes, bytesPerEvent: bytes / written };
    },
  };
}
