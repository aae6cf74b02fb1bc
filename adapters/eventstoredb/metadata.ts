/**
 * Stream metadata ($tb, $maxAge, $maxCount, ckptBase): the last `$metadata` event of `$$<stream>`,
 * changed read-modify-write.
 */
import { jsonEvent } from "@eventstore/db-client";
import type { EventStoreDBClient, JSONType } from "@eventstore/db-client";
import { retry } from "../../core/retry.ts";
import { isWrongExpectedVersion } from "./errors.ts";
import { readRaw } from "./reads.ts";

export type RawMetadata = Record<string, unknown>;

/** The raw JSON (keys such as `$tb` as stored) and the revision it sits at. */
export async function readMetadata(
  client: EventStoreDBClient,
  stream: string,
): Promise<{ data: RawMetadata; revision?: bigint }> {
  for await (const e of readRaw(client, `$$${stream}`, "backwards", 1)) {
    if (e.isJson && typeof e.data === "object" && e.data !== null) {
      return { data: e.data as RawMetadata, revision: e.revision };
    }
  }
  return { data: {} };
}

/**
 * Applies `change` to the current metadata and writes the result; `change` returns undefined when
 * nothing needs writing. Bypasses the client's setStreamMetadata, which drops keys it does not know
 * (e.g. raw `$acl`).
 */
export async function updateMetadata(
  client: EventStoreDBClient,
  stream: string,
  change: (current: RawMetadata) => RawMetadata | undefined,
): Promise<void> {
  // A concurrent change is resolved by reading again, not by waiting.
  await retry(
    async () => {
      const { data, revision } = await readMetadata(client, stream);
      const next = change(data);
      if (next === undefined) return;
      const event = jsonEvent({ type: "$metadata", data: next as JSONType });
      await client.appendToStream(`$$${stream}`, event, {
        expectedRevision: revision ?? "no_stream",
      });
    },
    { retryable: isWrongExpectedVersion, attempts: CONFLICT_ATTEMPTS, backoff: false },
  );
}

/** Read-modify-write tries before a stream that keeps changing underneath is reported. */
export const CONFLICT_ATTEMPTS = 6;
