/**
 * Wraps an EventLog to count calls and events read, so tests can assert on work done rather than
 * time.
 */
import type { EventLog, RecordedEvent } from "../../core/log.ts";

export interface Counts {
  appends: number;
  appended: number;
  reads: number;
  eventsRead: number;
}

export function countingLog(inner: EventLog): { log: EventLog; counts: Counts } {
  const counts: Counts = { appends: 0, appended: 0, reads: 0, eventsRead: 0 };
  const log: EventLog = {
    get supports() {
      return inner.supports;
    },
    location: inner.location,
    append: (stream, events, o) => {
      counts.appends++;
      counts.appended += events.length;
      return inner.append(stream, events, o);
    },
    read: (stream, o) => {
      counts.reads++;
      const it = inner.read(stream, o);
      return (async function* (): AsyncGenerator<RecordedEvent> {
        for await (const e of it) {
          counts.eventsRead++;
          yield e;
        }
      })();
    },
    ...(inner.readBatches
      ? {
        readBatches: (stream: string, o?: { from?: number }) => {
          counts.reads++;
          const it = inner.readBatches!(stream, o);
          return (async function* (): AsyncGenerator<RecordedEvent[]> {
            for await (const batch of it) {
              counts.eventsRead += batch.length;
              yield batch;
            }
          })();
        },
      }
      : {}),
    streams: (o) => inner.streams(o),
    info: (s) => inner.info(s),
    saveSnapshot: (s, snap) => inner.saveSnapshot(s, snap),
    loadSnapshot: (s, w) => inner.loadSnapshot(s, w),
    truncateBefore: (s, r, b) => inner.truncateBefore(s, r, b),
    delete: (s) => inner.delete(s),
    close: () => inner.close(),
  };
  return { log, counts };
}
