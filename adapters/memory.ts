/** An EventLog in memory: for tests and ephemeral runs. Nothing survives the process. */
import { CkptError, ErrorCode } from "../core/errors.ts";
import type { CkptEvent } from "../core/events.ts";
import type {
  AppendOptions,
  EventLog,
  MaintenanceOptions,
  ReadOptions,
  RecordedEvent,
  Snapshot,
  StreamInfo,
} from "../core/log.ts";
import { checkExpected } from "./expected.ts";

interface MemoryStream {
  events: CkptEvent[];
  first: number;
  updatedAt: number;
  latest?: Snapshot;
  base?: Snapshot;
}

/**
 * @example const store = new Store(memoryLog())
 */
export function memoryLog(): EventLog {
  const streams = new Map<string, MemoryStream>();
  let closed = false;
  const open = () => {
    if (closed) throw new CkptError(ErrorCode.CLOSED, "The in-memory log is closed.");
  };
  const headOf = (s: MemoryStream | undefined) => (s ? s.first + s.events.length - 1 : undefined);
  const infoOf = (stream: string, s: MemoryStream): StreamInfo => ({
    stream,
    head: headOf(s)!,
    first: s.first,
    updatedAt: s.updatedAt,
  });

  return {
    supports: { durable: false, multiProcess: false, atomicSnapshot: true, reclaimsSpace: true },
    location: "memory",

    async append(stream: string, events: readonly CkptEvent[], options: AppendOptions) {
      open();
      let s = streams.get(stream);
      checkExpected(stream, options.expectedRevision, headOf(s), "memory");
      if (!s) streams.set(stream, s = { events: [], first: 0, updatedAt: Date.now() });
      for (const e of events) s.events.push(e);
      s.updatedAt = Date.now();
      if (options.snapshot) s.latest = structuredClone(options.snapshot);
      return { head: headOf(s)! };
    },

    async *read(stream: string, options: ReadOptions = {}): AsyncGenerator<RecordedEvent> {
      open();
      const s = streams.get(stream);
      if (!s) return;
      const head = headOf(s)!;
      const limit = options.limit ?? Infinity;
      let n = 0;
      if (options.direction === "backward") {
        for (let r = Math.min(options.from ?? head, head); r >= s.first && n < limit; r--, n++) {
          yield { revision: r, event: s.events[r - s.first]! };
        }
      } else {
        for (let r = Math.max(options.from ?? 0, s.first); r <= head && n < limit; r++, n++) {
          yield { revision: r, event: s.events[r - s.first]! };
        }
      }
    },

    async streams(options: { prefix?: string } = {}) {
      open();
      const out: StreamInfo[] = [];
      for (const [name, s] of streams) {
        if (!options.prefix || name.startsWith(options.prefix)) out.push(infoOf(name, s));
      }
      return out.sort((a, b) => (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0));
    },

    async info(stream: string) {
      open();
      const s = streams.get(stream);
      return s && infoOf(stream, s);
    },

    async saveSnapshot(stream: string, snapshot: Snapshot) {
      open();
      const s = streams.get(stream);
      if (!s || snapshot.revision > headOf(s)!) return;
      if (!s.latest || s.latest.revision <= snapshot.revision) s.latest = structuredClone(snapshot);
    },

    async loadSnapshot(stream: string, which: "latest" | "base" = "latest") {
      open();
      const s = streams.get(stream);
      return which === "base" ? s?.base : s?.latest;
    },

    async truncateBefore(
      stream: string,
      revision: number,
      base: Snapshot,
      o: MaintenanceOptions = {},
    ) {
      open();
      const s = streams.get(stream);
      checkExpected(stream, o.expectedRevision ?? "any", headOf(s), "memory");
      if (!s || revision <= s.first) return;
      const head = headOf(s)!;
      const to = Math.min(revision, head + 1);
      s.base = structuredClone(base);
      if (!s.latest || s.latest.revision < base.revision) s.latest = structuredClone(base);
      s.events = s.events.slice(to - s.first);
      s.first = to;
    },

    async delete(stream: string, o: MaintenanceOptions = {}) {
      open();
      checkExpected(stream, o.expectedRevision ?? "any", headOf(streams.get(stream)), "memory");
      streams.delete(stream);
    },

    async close() {
      closed = true;
    },
  };
}
