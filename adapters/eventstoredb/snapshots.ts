/**
 * Snapshot side streams (latest, and the base truncation leaves): one event each under `$maxCount:
 * 1`, never replaced by an older one.
 */
import { jsonEvent } from "@eventstore/db-client";
import type { EventData, EventStoreDBClient, JSONType } from "@eventstore/db-client";
import { CkptError, ErrorCode } from "../../core/errors.ts";
import type { Snapshot } from "../../core/log.ts";
import { isWrongExpectedVersion } from "./errors.ts";
import { retry } from "../../core/retry.ts";
import { CONFLICT_ATTEMPTS, updateMetadata } from "./metadata.ts";
import { edge, type EsdbRecorded } from "./reads.ts";

const SNAPSHOT_TYPE = "ckpt.snapshot";
/**
 * Written by delete() instead of deleting the side stream, so the next write still has a revision
 * to expect.
 */
const CLEARED_TYPE = "ckpt.snapshot-cleared";

function decode(event: EsdbRecorded, location: string): Snapshot | undefined {
  if (event.type === CLEARED_TYPE) return undefined;
  const s = event.data as Partial<Snapshot> | null;
  if (
    !event.isJson || typeof s?.revision !== "number" || typeof s.version !== "number" ||
    !("state" in s)
  ) {
    throw new CkptError(
      ErrorCode.CORRUPT,
      `The snapshot in EventStoreDB stream "${event.streamId}" at ${location} is not a ckpt snapshot.`,
    );
  }
  return { revision: s.revision, version: s.version, state: s.state };
}

export async function loadSnapshot(
  client: EventStoreDBClient,
  name: string,
  location: string,
): Promise<Snapshot | undefined> {
  const event = await edge(client, name, "backwards");
  return event && decode(event, location);
}

/**
 * Appends `event` unless `skip` says the current one should stay, expecting the revision it just
 * read so a concurrent writer makes it look again rather than be overwritten.
 */
async function replace(
  client: EventStoreDBClient,
  name: string,
  event: EventData,
  skip: (current: EsdbRecorded | undefined) => boolean,
) {
  await retry(
    async () => {
      const current = await edge(client, name, "backwards");
      if (skip(current)) return;
      await client.appendToStream(name, event, {
        expectedRevision: current ? current.revision : "no_stream",
      });
    },
    { retryable: isWrongExpectedVersion, attempts: CONFLICT_ATTEMPTS, backoff: false },
  );
}

/**
 * Stores `snapshot` unless the side stream holds a newer one. `capped` remembers streams already
 * given `$maxCount: 1`.
 */
export async function putSnapshot(
  client: EventStoreDBClient,
  name: string,
  snapshot: Snapshot,
  capped: Set<string>,
  location: string,
): Promise<void> {
  if (!capped.has(name)) {
    await updateMetadata(
      client,
      name,
      (m) => (m.$maxCount === 1 ? undefined : { ...m, $maxCount: 1 }),
    );
    capped.add(name);
  }
  const data = {
    revision: snapshot.revision,
    version: snapshot.version,
    state: snapshot.state,
  } as JSONType;
  await replace(
    client,
    name,
    jsonEvent({ type: SNAPSHOT_TYPE, data }),
    (current) => (current ? (decode(current, location)?.revision ?? -1) : -1) > snapshot.revision,
  );
}

/**
 * Makes the side stream read as "no snapshot" (its old event goes at the next scavenge, `$maxCount`
 * being 1).
 */
export async function clearSnapshot(client: EventStoreDBClient, name: string): Promise<void> {
  await replace(
    client,
    name,
    jsonEvent({ type: CLEARED_TYPE, data: {} }),
    (current) => !current || current.type === CLEARED_TYPE,
  );
}
