/** Reading raw events through @eventstore/db-client: a missing or deleted stream reads as empty, an abandoned read is cancelled. */
import type { EventStoreDBClient, ResolvedEvent } from "@eventstore/db-client";
import { isStreamDeleted, isStreamNotFound, isWrongExpectedVersion } from "./errors.ts";

export type EsdbRecorded = NonNullable<ResolvedEvent["event"]>;
export type Direction = "forwards" | "backwards";

/**
 * Events of an ESDB stream from `from` (default: start, or end backwards); client errors other than
 * "no such stream" propagate.
 */
export async function* readRaw(
  client: EventStoreDBClient,
  name: string,
  direction: Direction,
  maxCount: number,
  from?: bigint,
): AsyncGenerator<EsdbRecorded> {
  let finished = false;
  let reading: ReturnType<EventStoreDBClient["readStream"]> | undefined;
  try {
    reading = client.readStream(name, {
      direction,
      fromRevision: from ?? (direction === "forwards" ? "start" : "end"),
      maxCount,
    });
    // Not destroyed on an early return: a destroyed reader strands the rest of the gRPC reply
    // unread, and the client's dispose() then waits forever for that call to finish.
    for await (const r of reading.iterator({ destroyOnReturn: false })) if (r.event) yield r.event;
    finished = true;
  } catch (e) {
    finished = true;
    if (!isStreamNotFound(e) && !isStreamDeleted(e)) throw e;
  } finally {
    // A consumer that stopped early: let what is in flight drain, and stop the server sending more.
    if (!finished && reading) {
      reading.resume();
      void reading.cancel();
    }
  }
}

/** The first event read in `direction`: the oldest visible one forwards, the newest backwards. */
export async function edge(
  client: EventStoreDBClient,
  name: string,
  direction: Direction,
): Promise<EsdbRecorded | undefined> {
  for await (const event of readRaw(client, name, direction, 1)) return event;
  return undefined;
}

/**
 * The ESDB revision of the stream's last event, even when every event is hidden by `$tb` or
 * `$maxAge`: an empty append expecting "no_stream" writes nothing, and is refused with the real
 * head when the stream exists.
 */
export async function hiddenHead(
  client: EventStoreDBClient,
  name: string,
): Promise<number | undefined> {
  try {
    await client.appendToStream(name, [], { expectedRevision: "no_stream" });
    return undefined;
  } catch (e) {
    const actual = (e as { actualVersion?: unknown }).actualVersion;
    if (!isWrongExpectedVersion(e)) throw e;
    return typeof actual === "bigint" ? Number(actual) : undefined;
  }
}
