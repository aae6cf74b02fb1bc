/**
 * The Streams gRPC service of the double (Read, Append, Delete, Tombstone): protobuf in, Store,
 * protobuf out.
 */
import * as grpc from "@grpc/grpc-js";
import { shared, streams as pb } from "./pb.ts";
import { batchAppend } from "./batch-append.ts";
import type { Expected, Outcome, Proposed, Recorded, Store } from "./store.ts";
import {
  expectedOf,
  failure,
  identifier,
  missingMetadata,
  proposedOf,
  streamDeleted,
  streamName,
  wrongExpectedVersion,
} from "./wire.ts";

type AppendReq = InstanceType<typeof pb.AppendReq>;
type AppendResp = InstanceType<typeof pb.AppendResp>;
type ReadReq = InstanceType<typeof pb.ReadReq>;
type ReadResp = InstanceType<typeof pb.ReadResp>;
type DeleteReq = InstanceType<typeof pb.DeleteReq>;
type TombstoneReq = InstanceType<typeof pb.TombstoneReq>;

/** Faults a test can inject; each counter is decremented as it fires. */
export interface Faults {
  /** Commit the next N appends, then fail them with UNAVAILABLE as if the reply was lost. */
  dropAppendReplies: number;
}

export interface Context {
  store: Store;
  faults: Faults;
  /** Methods called so far, in order, for tests. */
  calls: string[];
}

function appendReply(outcome: Exclude<Outcome, { kind: "deleted" }>): AppendResp {
  if (outcome.kind === "ok") {
    const success = new pb.AppendResp.Success();
    if (outcome.current < 0) success.setNoStream(new shared.Empty());
    else success.setCurrentRevision(String(outcome.current));
    success.setPosition(
      new pb.AppendResp.Position().setCommitPosition(String(outcome.position)).setPreparePosition(
        String(outcome.position),
      ),
    );
    return new pb.AppendResp().setSuccess(success);
  }
  const wrong = new pb.AppendResp.WrongExpectedVersion();
  if (outcome.current < 0) wrong.setCurrentNoStream(new shared.Empty());
  else wrong.setCurrentRevision(String(outcome.current));
  const e = outcome.expected;
  if (e === "any") wrong.setExpectedAny(new shared.Empty());
  else if (e === "no_stream") wrong.setExpectedNoStream(new shared.Empty());
  else if (e === "stream_exists") wrong.setExpectedStreamExists(new shared.Empty());
  else wrong.setExpectedRevision(String(e));
  return new pb.AppendResp().setWrongExpectedVersion(wrong);
}

function readEvent(r: Recorded): ReadResp {
  const event = new pb.ReadResp.ReadEvent.RecordedEvent()
    .setId(new shared.UUID().setString(r.id))
    .setStreamIdentifier(identifier(r.stream))
    .setStreamRevision(String(r.revision))
    .setCommitPosition(String(r.position))
    .setPreparePosition(String(r.position))
    .setData(r.data)
    .setCustomMetadata(r.customMetadata);
  const meta = event.getMetadataMap();
  meta.set("type", r.type);
  meta.set("content-type", r.contentType);
  meta.set("created", String(r.created));
  return new pb.ReadResp().setEvent(
    new pb.ReadResp.ReadEvent().setEvent(event).setCommitPosition(String(r.position)),
  );
}

/** Ends a write call: refused, committed-but-reply-lost (fault), or answered. */
function unaryDelete(
  ctx: Context,
  name: string,
  expected: Expected,
  hard: boolean,
  callback: grpc.sendUnaryData<unknown>,
): void {
  const outcome = ctx.store.delete(name, expected, hard);
  if (outcome.kind === "deleted") return callback(streamDeleted(name));
  if (outcome.kind === "wrong_expected_version") {
    return callback(wrongExpectedVersion(name, outcome.expected, outcome.current));
  }
  const Resp = hard ? pb.TombstoneResp : pb.DeleteResp;
  const position = new Resp.Position().setCommitPosition(String(outcome.position))
    .setPreparePosition(String(outcome.position));
  callback(null, new Resp().setPosition(position));
}

export function streamsService(ctx: Context): grpc.UntypedServiceImplementation {
  const { store, faults, calls } = ctx;
  return {
    append(
      call: grpc.ServerReadableStream<AppendReq, AppendResp>,
      callback: grpc.sendUnaryData<AppendResp>,
    ) {
      calls.push("Append");
      let stream = "";
      let expected: Expected = "any";
      const proposed: Proposed[] = [];
      // Client streaming: one options message, then one message per event; the reply comes once, at
      // the end.
      call.on("data", (req: AppendReq) => {
        const o = req.getOptions();
        if (o) {
          stream = streamName(o.getStreamIdentifier());
          expected = expectedOf(o.hasRevision() ? o.getRevision() : undefined, o);
        } else if (req.hasProposedMessage()) proposed.push(proposedOf(req.getProposedMessage()!));
      });
      call.on("end", () => {
        const invalid = missingMetadata(proposed);
        if (invalid) return callback(invalid);
        const outcome = store.append(stream, expected, proposed);
        if (outcome.kind === "deleted") return callback(streamDeleted(stream));
        if (outcome.kind === "ok" && faults.dropAppendReplies > 0) {
          faults.dropAppendReplies--;
          return callback(failure(grpc.status.UNAVAILABLE, "double: committed, reply dropped"));
        }
        // A wrong expected version is a successful reply carrying it, not a gRPC error.
        callback(null, appendReply(outcome));
      });
    },

    batchAppend: batchAppend(ctx),

    read(call: grpc.ServerWritableStream<ReadReq, ReadResp>) {
      calls.push("Read");
      const o = call.request.getOptions()!;
      const s = o.getStream();
      if (!s) {
        return call.emit(
          "error",
          failure(grpc.status.UNIMPLEMENTED, "double: only stream reads are implemented"),
        );
      }
      const name = streamName(s.getStreamIdentifier());
      const from = s.hasRevision() ? Number(s.getRevision()) : s.hasEnd() ? "end" : "start";
      if (o.hasSubscription()) return subscribe(store, call, name, from);
      const count = o.hasCount() ? Number(o.getCount()) : Number.MAX_SAFE_INTEGER;
      const result = store.read(
        name,
        from,
        o.getReadDirection() === pb.ReadReq.Options.ReadDirection.BACKWARDS,
        count,
      );
      if (result.kind === "deleted") return call.emit("error", streamDeleted(name));
      // A missing stream is a message, not an error; either way the call must end or the client
      // waits forever.
      if (result.kind === "not_found") {
        call.write(
          new pb.ReadResp().setStreamNotFound(
            new pb.ReadResp.StreamNotFound().setStreamIdentifier(identifier(name)),
          ),
        );
      } else for (const r of result.events) call.write(readEvent(r));
      call.end();
    },

    delete(call: grpc.ServerUnaryCall<DeleteReq, unknown>, callback: grpc.sendUnaryData<unknown>) {
      calls.push("Delete");
      const o = call.request.getOptions()!;
      unaryDelete(
        ctx,
        streamName(o.getStreamIdentifier()),
        expectedOf(o.hasRevision() ? o.getRevision() : undefined, o),
        false,
        callback,
      );
    },

    tombstone(
      call: grpc.ServerUnaryCall<TombstoneReq, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) {
      calls.push("Tombstone");
      const o = call.request.getOptions()!;
      unaryDelete(
        ctx,
        streamName(o.getStreamIdentifier()),
        expectedOf(o.hasRevision() ? o.getRevision() : undefined, o),
        true,
        callback,
      );
    },
  };
}

/**
 * Confirmation, catch-up events after `from` (exclusive), caught-up, then live events until the
 * client cancels.
 */
function subscribe(
  store: Store,
  call: grpc.ServerWritableStream<ReadReq, ReadResp>,
  name: string,
  from: number | "start" | "end",
): void {
  call.write(
    new pb.ReadResp().setConfirmation(
      new pb.ReadResp.SubscriptionConfirmation().setSubscriptionId(crypto.randomUUID()),
    ),
  );
  if (store.isTombstoned(name)) return void call.emit("error", streamDeleted(name));
  const catchUp = from === "end"
    ? undefined
    : store.read(name, from === "start" ? 0 : from + 1, false, Number.MAX_SAFE_INTEGER);
  if (catchUp?.kind === "events") { for (const r of catchUp.events) call.write(readEvent(r)); }
  call.write(new pb.ReadResp().setCaughtUp(new pb.ReadResp.CaughtUp()));
  // Registered in the same tick as the catch-up read, so no write can fall between the two.
  const stop = store.subscribe((r) => {
    if (r.stream === name) call.write(readEvent(r));
  });
  call.on("cancelled", stop);
  call.on("close", stop);
}
