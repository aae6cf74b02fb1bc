/**
 * Helpers every handler of the double shares: stream names as bytes, expected-version oneofs, and
 * errors with EventStoreDB's trailers.
 */
import * as grpc from "@grpc/grpc-js";
import { shared } from "./pb.ts";
import type { Expected, Proposed } from "./store.ts";

type StreamIdentifier = InstanceType<typeof shared.StreamIdentifier>;

/** Stream names travel as bytes. */
export function streamName(id: StreamIdentifier | undefined): string {
  return new TextDecoder().decode(id?.getStreamName_asU8() ?? new Uint8Array());
}

export function identifier(name: string): StreamIdentifier {
  return new shared.StreamIdentifier().setStreamName(new TextEncoder().encode(name));
}

/** The expected-revision oneof of write requests; 64-bit revisions arrive as decimal strings. */
export function expectedOf(
  revision: string | undefined,
  o: { hasNoStream(): boolean; hasStreamExists(): boolean },
): Expected {
  if (revision !== undefined) return BigInt(revision);
  if (o.hasNoStream()) return "no_stream";
  if (o.hasStreamExists()) return "stream_exists";
  return "any";
}

/**
 * The numeric form the server puts in `expected-version` trailers (any -2, no_stream -1,
 * stream_exists -4).
 */
function expectedCode(e: Expected): string {
  return String(e === "any" ? -2 : e === "no_stream" ? -1 : e === "stream_exists" ? -4 : e);
}

export function failure(
  code: grpc.status,
  details: string,
  trailers: Record<string, string> = {},
): grpc.ServiceError {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(trailers)) metadata.set(k, v);
  return Object.assign(new Error(details), { code, details, metadata });
}

export function streamDeleted(stream: string): grpc.ServiceError {
  return failure(grpc.status.FAILED_PRECONDITION, `Event stream '${stream}' is deleted.`, {
    exception: "stream-deleted",
    "stream-name": stream,
  });
}

/**
 * How Delete and Tombstone report a wrong expected version (Append instead replies successfully,
 * carrying it).
 */
export function wrongExpectedVersion(
  stream: string,
  expected: Expected,
  current: number,
): grpc.ServiceError {
  const trailers: Record<string, string> = {
    exception: "wrong-expected-version",
    "stream-name": stream,
    "expected-version": expectedCode(expected),
  };
  if (current >= 0) trailers["actual-version"] = String(current);
  return failure(
    grpc.status.FAILED_PRECONDITION,
    `Operation failed due to WrongExpectedVersion. Stream: ${stream}`,
    trailers,
  );
}

/** Both Append and BatchAppend carry proposed events with the same fields. */
export function proposedOf(m: {
  getId(): InstanceType<typeof shared.UUID> | undefined;
  getMetadataMap(): { get(key: string): string | undefined };
  getData_asU8(): Uint8Array;
  getCustomMetadata_asU8(): Uint8Array;
}): Proposed {
  const meta = m.getMetadataMap();
  return {
    id: m.getId()?.getString() ?? "",
    type: meta.get("type") ?? "",
    contentType: meta.get("content-type") ?? "",
    data: m.getData_asU8(),
    customMetadata: m.getCustomMetadata_asU8(),
  };
}

/** The server refuses events without `type` or `content-type` metadata. */
export function missingMetadata(proposed: readonly Proposed[]): grpc.ServiceError | undefined {
  if (proposed.every((p) => p.type && p.contentType)) return undefined;
  const trailers = {
    exception: "missing-required-metadata-property",
    "required-metadata-properties": "type,content-type",
  };
  return failure(grpc.status.INVALID_ARGUMENT, "Missing required metadata property.", trailers);
}
