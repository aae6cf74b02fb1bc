/**
 * Streams.BatchAppend of the double: the bidirectional append the client uses whenever the server
 * advertises it.
 */
import type * as grpc from "@grpc/grpc-js";
import { status as grpcStatus } from "@grpc/grpc-js";
import { Any, Empty, shared, status, streams as pb } from "./pb.ts";
import type { Context } from "./streams-service.ts";
import type { Expected, Outcome, Proposed } from "./store.ts";
import {
  expectedOf,
  failure,
  identifier,
  missingMetadata,
  proposedOf,
  streamName,
} from "./wire.ts";

type BatchAppendReq = InstanceType<typeof pb.BatchAppendReq>;
type BatchAppendResp = InstanceType<typeof pb.BatchAppendResp>;

/**
 * Errors travel inside a successful message as google.rpc.Status, with the detail packed in an Any.
 */
function rpcError(
  code: number,
  message: string,
  typeName: string,
  detail: { serializeBinary(): Uint8Array },
) {
  const any = new Any();
  any.pack(detail.serializeBinary(), typeName);
  return new status.Status().setCode(code).setMessage(message).setDetails(any);
}

function reply(
  id: InstanceType<typeof shared.UUID>,
  stream: string,
  outcome: Outcome,
): BatchAppendResp {
  const resp = new pb.BatchAppendResp().setCorrelationId(id).setStreamIdentifier(
    identifier(stream),
  );
  if (outcome.kind === "ok") {
    const success = new pb.BatchAppendResp.Success();
    if (outcome.current < 0) success.setNoStream(new Empty());
    else success.setCurrentRevision(String(outcome.current));
    success.setPosition(
      new shared.AllStreamPosition().setCommitPosition(String(outcome.position)).setPreparePosition(
        String(outcome.position),
      ),
    );
    return resp.setSuccess(success);
  }
  if (outcome.kind === "deleted") {
    return resp.setError(
      rpcError(
        grpcStatus.FAILED_PRECONDITION,
        "Stream deleted",
        "event_store.client.StreamDeleted",
        new shared.StreamDeleted().setStreamIdentifier(identifier(stream)),
      ),
    );
  }
  const wrong = new shared.WrongExpectedVersion();
  if (outcome.current < 0) wrong.setCurrentNoStream(new Empty());
  else wrong.setCurrentStreamRevision(String(outcome.current));
  const e = outcome.expected;
  if (e === "any") wrong.setExpectedAny(new Empty());
  else if (e === "no_stream") wrong.setExpectedNoStream(new Empty());
  else if (e === "stream_exists") wrong.setExpectedStreamExists(new Empty());
  else wrong.setExpectedStreamPosition(String(e));
  return resp.setError(
    rpcError(
      grpcStatus.FAILED_PRECONDITION,
      "Wrong expected version",
      "event_store.client.WrongExpectedVersion",
      wrong,
    ),
  );
}

/**
 * One call carries many appends, told apart by correlation id; each may span requests until
 * `is_final`.
 */
export function batchAppend({ store, faults, calls }: Context) {
  return (call: grpc.ServerDuplexStream<BatchAppendReq, BatchAppendResp>) => {
    const pending = new Map<string, { stream: string; expected: Expected; proposed: Proposed[] }>();
    call.on("data", (req: BatchAppendReq) => {
      const id = req.getCorrelationId()!;
      const key = id.getString();
      const batch = pending.get(key) ?? { stream: "", expected: "any" as Expected, proposed: [] };
      pending.set(key, batch);
      const o = req.getOptions();
      if (o) {
        batch.stream = streamName(o.getStreamIdentifier());
        batch.expected = expectedOf(o.hasStreamPosition() ? o.getStreamPosition() : undefined, o);
      }
      for (const m of req.getProposedMessagesList()) batch.proposed.push(proposedOf(m));
      if (!req.getIsFinal()) return;
      pending.delete(key);
      calls.push("BatchAppend");
      const invalid = missingMetadata(batch.proposed);
      if (invalid) return void call.emit("error", invalid);
      const outcome = store.append(batch.stream, batch.expected, batch.proposed);
      if (outcome.kind === "ok" && faults.dropAppendReplies > 0) {
        faults.dropAppendReplies--;
        return void call.emit(
          "error",
          failure(grpcStatus.UNAVAILABLE, "double: committed, reply dropped"),
        );
      }
      call.write(reply(id, batch.stream, outcome));
    });
    call.on("end", () => call.end());
  };
}
