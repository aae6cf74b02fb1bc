/** The protocol double keeps each EventStoreDB protocol fact ckpt relies on, checked through the real @eventstore/db-client. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { EventStoreDBClient, jsonEvent } from "@eventstore/db-client";
import type { ResolvedEvent } from "@eventstore/db-client";
import * as grpc from "@grpc/grpc-js";
import { type Double, type DoubleOptions, startDouble } from "./index.ts";
import { clientRequire, streams as pb, StreamsService } from "./pb.ts";

const NOW = 1_700_000_000_123;

async function withDouble(
  options: DoubleOptions,
  run: (d: Double, client: EventStoreDBClient) => Promise<void>,
  query = "",
): Promise<void> {
  const d = await startDouble({ now: () => NOW, ...options });
  const client = EventStoreDBClient.connectionString(d.connectionString + query);
  try {
    await run(d, client);
  } finally {
    await client.dispose();
    await d.close();
  }
}

const ev = (n: number, id?: string) =>
  jsonEvent({ type: "item", data: { n }, ...(id ? { id } : {}) });

async function readAll(
  client: EventStoreDBClient,
  stream: string,
  options: Parameters<EventStoreDBClient["readStream"]>[1] = {},
): Promise<ResolvedEvent[]> {
  const out: ResolvedEvent[] = [];
  for await (const e of client.readStream(stream, options)) out.push(e);
  return out;
}

async function rejection(p: Promise<unknown>): Promise<Record<string, any>> {
  try {
    await p;
  } catch (e) {
    return e as Record<string, any>;
  }
  throw new Error("expected a rejection");
}

test("replies are built from the generated classes the client itself loaded", async () => {
  const theirs = clientRequire("../generated/streams_pb.js") as typeof pb;
  assert.ok(
    theirs.ReadResp === pb.ReadResp && theirs.AppendResp === pb.AppendResp,
    "one copy of streams_pb",
  );
  await withDouble({}, async (_d, client) => {
    await client.appendToStream("s", ev(1));
    assert.is((await readAll(client, "s")).length, 1);
  });
});

test("ServerFeatures: called lazily once; UNIMPLEMENTED falls back to Append; BatchAppend only when advertised", async () => {
  await withDouble({ advertise: false }, async (d, client) => {
    assert.equal(d.calls, [], "nothing sent before the first command");
    await client.appendToStream("s", [ev(1), ev(2)]);
    await client.appendToStream("s", ev(3));
    assert.equal(d.calls, ["GetSupportedMethods", "Append", "Append"]);
  });
  await withDouble({ advertise: [] }, async (d, client) => {
    await client.appendToStream("s", ev(1));
    assert.equal(d.calls, ["GetSupportedMethods", "Append"]);
  });
  await withDouble({ advertise: [StreamsService.batchAppend.path] }, async (d, client) => {
    await client.appendToStream("s", ev(1));
    assert.equal(d.calls, ["GetSupportedMethods", "BatchAppend"]);
  });
});

test("Append is client-streaming: options, one message per event, one reply at the end", async () => {
  await withDouble({ advertise: false }, async (d, client) => {
    const ids = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    const r = await client.appendToStream("s", [ev(0, ids[0]), ev(1, ids[1]), ev(2, ids[2])], {
      expectedRevision: "no_stream",
    });
    assert.is(r.nextExpectedRevision, 2n);
    assert.equal(d.calls.filter((c) => c === "Append").length, 1);
    const got = await readAll(client, "s");
    assert.equal(got.map((e) => e.event?.id), ids);
    assert.equal(got.map((e) => e.event?.data), [{ n: 0 }, { n: 1 }, { n: 2 }]);
  });
});

test("Append: a wrong expected version is a successful reply carrying wrong_expected_version", async () => {
  await withDouble({ advertise: false }, async (_d, client) => {
    await client.appendToStream("s", [ev(0), ev(1)]);
    // With throwOnAppendFailure=false the client resolves instead of rejecting: only a successful
    // reply does that.
    const r = await client.appendToStream("s", ev(2), { expectedRevision: 0n });
    assert.equal([r.success, r.nextExpectedRevision], [false, 1n]);
  }, "&throwOnAppendFailure=false");
  for (const advertise of [false, undefined] as const) {
    await withDouble({ advertise }, async (_d, client) => {
      await client.appendToStream("s", [ev(0), ev(1)]);
      const e = await rejection(
        client.appendToStream("s", ev(2), { expectedRevision: "no_stream" }),
      );
      assert.equal([e.type, e.streamName, e.expectedVersion, e.actualVersion], [
        "wrong-expected-version",
        "s",
        "no_stream",
        1n,
      ]);
      const none = await rejection(client.appendToStream("other", ev(2), { expectedRevision: 4n }));
      assert.equal([none.expectedVersion, none.actualVersion], [4n, "no_stream"]);
    });
  }
});

test("Delete and Tombstone: wrong expected version is FAILED_PRECONDITION with trailers", async () => {
  await withDouble({}, async (_d, client) => {
    await client.appendToStream("s", ev(0));
    const del = await rejection(client.deleteStream("s", { expectedRevision: 5n }));
    assert.is(del._raw.code, grpc.status.FAILED_PRECONDITION);
    const trailers = del._raw.metadata.getMap();
    assert.equal([
      trailers.exception,
      trailers["stream-name"],
      trailers["expected-version"],
      trailers["actual-version"],
    ], ["wrong-expected-version", "s", "5", "0"]);
    assert.equal([del.type, del.expectedVersion, del.actualVersion], [
      "wrong-expected-version",
      5n,
      0n,
    ]);
    const tomb = await rejection(client.tombstoneStream("s", { expectedRevision: "no_stream" }));
    assert.is(tomb._raw.code, grpc.status.FAILED_PRECONDITION);
    assert.equal([tomb._raw.metadata.getMap()["expected-version"], tomb.actualVersion], ["-1", 0n]);
  });
});

test("Read is server-streaming and ends; a missing stream is a stream_not_found message, not an error", async () => {
  await withDouble({}, async (_d, client) => {
    await client.appendToStream("s", [ev(0), ev(1), ev(2)]);
    assert.equal((await readAll(client, "s")).map((e) => e.event?.revision), [0n, 1n, 2n]);
    assert.equal(
      (await readAll(client, "s", { direction: "backwards", fromRevision: "end", maxCount: 2 }))
        .map((e) => e.event?.revision),
      [2n, 1n],
    );
    const missing = await rejection(readAll(client, "nope"));
    assert.is(missing.type, "stream-not-found");
    assert.is(missing._raw, null, "raised by the client from a message, not from a gRPC status");
  });
});

test("a tombstoned stream: reads fail with trailers exception=stream-deleted and stream-name", async () => {
  await withDouble({}, async (_d, client) => {
    await client.appendToStream("gone", ev(0));
    await client.tombstoneStream("gone");
    const read = await rejection(readAll(client, "gone"));
    assert.equal([read.type, read.streamName], ["stream-deleted", "gone"]);
    assert.is(read._raw.metadata.getMap().exception, "stream-deleted");
    assert.is((await rejection(client.appendToStream("gone", ev(1)))).type, "stream-deleted");
  });
});

test("64-bit numbers travel as decimal strings; stream names as bytes", async () => {
  await withDouble({}, async (_d, client) => {
    await client.appendToStream("s", ev(0));
    const big = 2n ** 62n + 1n;
    const e = await rejection(client.appendToStream("s", ev(1), { expectedRevision: big }));
    assert.equal([e.expectedVersion, e.actualVersion], [big, 0n], "no precision lost on the way");
    assert.equal(await readAll(client, "s", { fromRevision: 2n ** 63n }), []);
    await client.appendToStream("ckpt-é✓", ev(0));
    assert.is((await readAll(client, "ckpt-é✓"))[0]?.event?.streamId, "ckpt-é✓");
  });
});

test("recorded events carry type, content-type and created in .NET ticks since the Unix epoch", async () => {
  await withDouble({}, async (_d, client) => {
    await client.appendToStream("s", jsonEvent({ type: "run.started", data: { a: 1 } }));
    const [e] = await readAll(client, "s");
    assert.equal([e?.event?.type, e?.event?.isJson, e?.event?.created.getTime()], [
      "run.started",
      true,
      NOW,
    ]);
  });
});

test("stream metadata is a $metadata event on $$<stream>, read back with a backwards read of 1", async () => {
  await withDouble({}, async (d, client) => {
    await client.setStreamMetadata("s", { maxCount: 5 });
    await client.setStreamMetadata("s", { truncateBefore: 2, maxAge: 60 });
    const reads = d.calls.length;
    assert.equal((await client.getStreamMetadata("s")).metadata, { truncateBefore: 2, maxAge: 60 });
    assert.equal(d.calls.slice(reads), ["Read"]);
    const [meta] = await readAll(client, "$$s", {
      direction: "backwards",
      fromRevision: "end",
      maxCount: 1,
    });
    assert.equal([meta?.event?.type, meta?.event?.revision, meta?.event?.data], ["$metadata", 1n, {
      $tb: 2,
      $maxAge: 60,
    }]);
  });
});

test("reads honour $tb, $maxCount and $maxAge", async () => {
  let now = NOW;
  await withDouble({ now: () => now }, async (_d, client) => {
    await client.appendToStream("s", [ev(0), ev(1), ev(2), ev(3)]);
    await client.setStreamMetadata("s", { truncateBefore: 2 });
    assert.equal((await readAll(client, "s")).map((e) => e.event?.revision), [2n, 3n]);
    assert.equal(
      (await readAll(client, "s", { direction: "backwards", fromRevision: "end" })).map((e) =>
        e.event?.revision
      ),
      [3n, 2n],
    );
    await client.setStreamMetadata("s", { maxCount: 1 });
    assert.equal((await readAll(client, "s")).map((e) => e.event?.revision), [3n]);
    now += 10_000;
    await client.appendToStream("s", ev(4));
    await client.setStreamMetadata("s", { maxAge: 5 });
    assert.equal((await readAll(client, "s")).map((e) => e.event?.revision), [4n]);
  });
});

test("re-sent events (same ids) are acknowledged, not written twice; other ids conflict", async () => {
  for (const advertise of [false, undefined] as const) {
    await withDouble({ advertise }, async (_d, client) => {
      const batch = [ev(0, crypto.randomUUID()), ev(1, crypto.randomUUID())];
      await client.appendToStream("s", batch, { expectedRevision: "no_stream" });
      const again = await client.appendToStream("s", batch, { expectedRevision: "no_stream" });
      assert.is(again.nextExpectedRevision, 1n);
      const more = [ev(2, crypto.randomUUID())];
      await client.appendToStream("s", more, { expectedRevision: "any" });
      await client.appendToStream("s", more, { expectedRevision: "any" });
      assert.is((await readAll(client, "s")).length, 3);
      assert.is(
        (await rejection(client.appendToStream("s", [ev(9)], { expectedRevision: 0n }))).type,
        "wrong-expected-version",
      );
    });
  }
});

test("a dropped reply: the client sees UNAVAILABLE, yet the events were written", async () => {
  await withDouble({}, async (d, client) => {
    d.faults.dropAppendReplies = 1;
    assert.is((await rejection(client.appendToStream("s", ev(0)))).type, "unavailable");
    assert.is((await readAll(client, "s")).length, 1);
    assert.is(
      (await client.appendToStream("s", ev(1))).nextExpectedRevision,
      1n,
      "the client reconnects",
    );
  });
});

test("soft delete: reads find no stream; appending again continues the numbering behind $tb", async () => {
  await withDouble({}, async (_d, client) => {
    await client.appendToStream("s", [ev(0), ev(1)]);
    await client.setStreamMetadata("s", { maxAge: 100 });
    await client.deleteStream("s");
    assert.is((await rejection(readAll(client, "s"))).type, "stream-not-found");
    const r = await client.appendToStream("s", ev(2), { expectedRevision: "no_stream" });
    assert.is(r.nextExpectedRevision, 2n);
    assert.equal((await readAll(client, "s")).map((e) => e.event?.revision), [2n]);
    assert.equal((await client.getStreamMetadata("s")).metadata, {
      maxAge: 100,
      truncateBefore: 2,
    });
  });
});

test("subscriptions: confirmation, catch-up after fromRevision (exclusive), caught-up, then live", async () => {
  await withDouble({}, async (_d, client) => {
    await client.appendToStream("s", [ev(0), ev(1), ev(2), ev(3)]);
    const seen: string[] = [];
    const sub = client.subscribeToStream("s", { fromRevision: 1n });
    sub.on("confirmation", () => seen.push("confirmation"));
    sub.on("caughtUp", () => {
      seen.push("caughtUp");
      void client.appendToStream("s", ev(4));
    });
    for await (const e of sub) {
      seen.push(String(e.event?.revision));
      if (e.event?.revision === 4n) break;
    }
    await sub.unsubscribe();
    assert.equal(seen, ["confirmation", "2", "3", "caughtUp", "4"]);
  });
});

test.run();
