/**
 * The HTTP adapter beyond the shared contract: what it learns from the sidecar, its error codes,
 * its retries (refused connections, 429), NDJSON streaming, group commit over HTTP, and several
 * Stores sharing one stage through one sidecar.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { connectHttpLog, httpLog } from "../../adapters/http.ts";
import { memoryLog } from "../../adapters/memory.ts";
import type { CkptEvent } from "../../core/events.ts";
import { Store } from "../../core/store.ts";
import { createApp } from "../../server/app.ts";
import { serverStore } from "../../server/store.ts";
import { runtimePlatform } from "../../runtime/platform.ts";
import { bearer, listen, type Sidecar, sidecar, sleep, TOKENS } from "./helpers.ts";

let s: Sidecar;
test.before(async () => {
  s = await sidecar({ serve: true, auth: true, app: { logBodyLimit: 256 * 1024 } });
});
test.after(async () => {
  await s.close();
});

const started = (runId = "r"): CkptEvent => ({ type: "run.started", v: 1, at: Date.now(), runId });
const item = (index: number): CkptEvent => ({
  type: "item",
  v: 1,
  at: Date.now(),
  index,
  outcome: "ok",
});
async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

test("connectHttpLog learns what the sidecar's log supports", async () => {
  const log = await connectHttpLog({ url: s.url, token: TOKENS.read });
  assert.equal(log.supports, {
    durable: true,
    multiProcess: true,
    atomicSnapshot: true,
    reclaimsSpace: true,
  });
  assert.is(log.location, s.url);
  const mem = createApp(serverStore(memoryLog()));
  const l = await listen(mem.fetch);
  assert.is((await connectHttpLog({ url: l.url })).supports.durable, false);
  await mem.drain(100);
  await l.close(100);
  const plain = httpLog({ url: "http://user:pw@127.0.0.1:9/base/?q=1#h" });
  assert.equal(plain.supports, {
    durable: false,
    multiProcess: true,
    atomicSnapshot: false,
    reclaimsSpace: false,
  }, "conservative without asking");
  assert.is(plain.location, "http://127.0.0.1:9/base", "no credentials in messages");
  assert.throws(
    () => httpLog({ url: "not a url" }),
    (e: { code?: string }) => e.code === "CKPT_INVALID",
  );
});

test("errors keep their codes: unknown token, too weak a role, conflicts, bad transitions", async () => {
  assert.is(await code(connectHttpLog({ url: s.url, token: "who-knows" })), "CKPT_UNAUTHORIZED");
  const reader = httpLog({ url: s.url, token: TOKENS.read });
  assert.is(
    await code(reader.append("e1", [started()], { expectedRevision: "no_stream" })),
    "CKPT_FORBIDDEN",
  );
  assert.is(await reader.info("e1"), undefined, "nothing was written");
  const writer = httpLog({ url: s.url, token: TOKENS.write });
  await writer.append("e1", [started(), item(0)], { expectedRevision: "no_stream" });
  assert.is(await code(writer.append("e1", [item(1)], { expectedRevision: 0 })), "CKPT_CONFLICT");
  assert.is(
    await code(writer.append("e1", [{ type: "resumed", v: 1, at: 1 }], { expectedRevision: 1 })),
    "CKPT_BAD_TRANSITION",
  );
  assert.is(await code(writer.delete("e1")), "CKPT_FORBIDDEN", "deleting needs admin");
  assert.is(
    await code(writer.append("../etc", [started()], { expectedRevision: "any" })),
    "CKPT_INVALID",
  );
  const closed = httpLog({ url: s.url, token: TOKENS.write });
  await closed.close();
  assert.is(await code(closed.info("e1")), "CKPT_CLOSED");
});

test("a sidecar that is not there is CKPT_UNAVAILABLE, with a hint", async () => {
  const log = httpLog({ url: "http://127.0.0.1:9", retryForMs: 100 });
  try {
    await log.streams();
    assert.unreachable();
  } catch (e) {
    assert.is((e as { code?: string }).code, "CKPT_UNAVAILABLE");
    assert.match((e as Error).message, "ckpt-server");
  }
});

test("refused connections and 429s are retried: the request never reached the sidecar", async () => {
  let calls = 0;
  const flaky: typeof fetch = async (input, init) => {
    calls++;
    if (calls === 1) throw new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } });
    if (calls === 2) {
      return new Response('{"error":{"code":"CKPT_BUSY","message":"busy"}}', {
        status: 429,
        headers: { "retry-after": "0" },
      });
    }
    return fetch(input, init);
  };
  const log = httpLog({ url: s.url, token: TOKENS.write, fetch: flaky });
  assert.equal(await log.append("retry", [started()], { expectedRevision: "no_stream" }), {
    head: 0,
  });
  assert.is(calls, 3);
  assert.is((await s.inner.info("retry"))?.head, 0, "written once");

  // The connection drops after the append was delivered: the client reads what landed instead of
  // sending it again.
  let posts = 0;
  const lostAnswer: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    if (init?.method === "POST" && ++posts === 1) {
      throw new TypeError("fetch failed", { cause: { code: "ECONNRESET" } });
    }
    return res;
  };
  const delivered = httpLog({ url: s.url, token: TOKENS.write, fetch: lostAnswer });
  assert.equal(await delivered.append("retry", [item(0)], { expectedRevision: 0 }), { head: 1 });
  assert.is(posts, 1, "a delivered append is not sent again");
  assert.is((await s.inner.info("retry"))?.head, 1, "written once");

  // The connection drops before the append was delivered: it did not land, so it is sent again.
  let tries = 0;
  const lostRequest: typeof fetch = async (input, init) => {
    if (init?.method === "POST" && ++tries === 1) {
      throw new TypeError("fetch failed", { cause: { code: "UND_ERR_SOCKET" } });
    }
    return fetch(input, init);
  };
  const resent = httpLog({ url: s.url, token: TOKENS.write, fetch: lostRequest });
  assert.equal(await resent.append("retry", [item(1)], { expectedRevision: 1 }), { head: 2 });
  assert.is(tries, 2);
  assert.is((await s.inner.info("retry"))?.head, 2, "written once");

  // Past the retry window the caller hears CKPT_UNAVAILABLE.
  let resets = 0;
  const reset: typeof fetch = async () => {
    resets++;
    throw new TypeError("fetch failed", { cause: { code: "ECONNRESET" } });
  };
  const gone = httpLog({ url: s.url, token: TOKENS.write, fetch: reset, retryForMs: 200 });
  assert.is(
    await code(gone.append("retry", [item(2)], { expectedRevision: 2 })),
    "CKPT_UNAVAILABLE",
  );
  assert.ok(resets > 1, "retried within the window");
  assert.is((await s.inner.info("retry"))?.head, 2, "nothing written");
});

test("a sidecar that starts late is waited for", async () => {
  const probe = await listen(() => new Response("x"));
  const port = probe.port;
  await probe.close(100);
  const log = httpLog({ url: `http://127.0.0.1:${port}`, retryForMs: 5000 });
  const pending = log.streams();
  await sleep(200);
  const late = createApp(serverStore(memoryLog()));
  const mod = "Deno" in globalThis
    ? await import("../../server/deno.ts")
    : await import("../../server/node.ts");
  const l = await mod.listen(late.fetch, { host: "127.0.0.1", port });
  assert.equal(await pending, []);
  await late.drain(100);
  await l.close(100);
});

test("NDJSON reads stream, stop early without harm, and a mid-stream error is thrown", async () => {
  const log = httpLog({ url: s.url, token: TOKENS.write });
  const events = [started(), ...Array.from({ length: 3000 }, (_, i) => item(i))];
  await log.append("long", events, { expectedRevision: "no_stream" });
  let n = 0;
  for await (const e of log.read("long", { from: 10 })) {
    assert.is(e.revision, 10 + n);
    if (++n === 3) break;
  }
  let batches = 0;
  let total = 0;
  for await (const b of log.readBatches!("long", { from: 1 })) (batches++, (total += b.length));
  assert.is(total, 3000);
  assert.ok(batches >= 1);
  const body =
    '{"revision":0,"event":{"type":"run.started","v":1,"at":1,"runId":"r"}}\n{"error":{"code":"CKPT_IO","message":"disk on fire"}}\n';
  const broken = httpLog({
    url: s.url,
    fetch: async () => new Response(body, { headers: { "content-type": "application/x-ndjson" } }),
  });
  const seen: number[] = [];
  assert.is(
    await code((async () => {
      for await (const e of broken.read("x")) seen.push(e.revision);
    })()),
    "CKPT_IO",
  );
  assert.equal(seen, [0]);
});

test("a forward read cut off mid-stream carries on after the last event delivered; a backward one fails", async () => {
  const log = httpLog({ url: s.url, token: TOKENS.write });
  await log.append("cut", [started(), ...Array.from({ length: 50 }, (_, i) => item(i))], {
    expectedRevision: "no_stream",
  });
  const queries: string[] = [];
  let cuts = 0;
  // The first answer delivers 20 whole lines, then the connection drops (as undici reports a
  // reset).
  const cutting: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    queries.push(url.search);
    const res = await fetch(input, init);
    if (cuts++ > 0) return res;
    const head = (await res.text()).split("\n").slice(0, 20).join("\n") + "\n";
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(ctl) {
        if (pulls++ === 0) ctl.enqueue(new TextEncoder().encode(head));
        else {ctl.error(
            Object.assign(new TypeError("terminated"), { cause: { code: "ECONNRESET" } }),
          );}
      },
    });
    return new Response(body, { status: 200, headers: res.headers });
  };
  const reader = httpLog({ url: s.url, token: TOKENS.read, fetch: cutting });
  const seen: number[] = [];
  for await (const e of reader.read("cut", { from: 0, limit: 40 })) seen.push(e.revision);
  assert.equal(seen, Array.from({ length: 40 }, (_, i) => i), "each event once, in order");
  assert.equal(
    queries,
    ["?from=0&limit=40", "?from=20&limit=20"],
    "the second request starts after the last event delivered",
  );
  cuts = 0;
  queries.length = 0;
  assert.is(
    await code((async () => {
      for await (const _ of reader.read("cut", { direction: "backward" })) void _;
    })()),
    "CKPT_UNAVAILABLE",
  );
  assert.is(queries.length, 1, "a backward read is not resent");
});

test("a batch over the sidecar's limit is refused before it is sent", async () => {
  const log = await connectHttpLog({ url: s.url, token: TOKENS.write });
  const huge = [started(), ...Array.from({ length: 5000 }, (_, i) => item(i))];
  try {
    await log.append("huge", huge, { expectedRevision: "no_stream" });
    assert.unreachable();
  } catch (e) {
    assert.is((e as { code?: string }).code, "CKPT_INVALID");
    assert.match((e as Error).message, "maxBatch");
  }
  assert.is(await s.inner.info("huge"), undefined);
});

test("a Store over HTTP: concurrent done() calls share one request, and done means durable on the sidecar", async () => {
  const store = new Store(await connectHttpLog({ url: s.url, token: TOKENS.write }), {
    platform: runtimePlatform,
  });
  const run = await store.stage("gc").begin({ total: 2000 });
  const metric = async () =>
    Number(
      /ckpt_log_appends_total (\d+)/.exec(
        await (await fetch(`${s.url}/metrics`, { headers: bearer(TOKENS.read) })).text(),
      )![1],
    );
  const before = await metric();
  await Promise.all(Array.from({ length: 2000 }, (_, i) => run.done(i)));
  assert.ok((await metric()) - before <= 2, "2000 updates, one or two appends");
  assert.is(
    (await s.inner.info("gc"))?.head,
    run.state.revision,
    "acknowledged means in the sidecar's LevelDB",
  );
  await run.complete();
  const viaServer =
    (await (await fetch(`${s.url}/v1/stages/gc`, { headers: bearer(TOKENS.read) })).json()) as {
      status: string;
      counters: { processed: number };
    };
  assert.equal([viaServer.status, viaServer.counters.processed], ["completed", 2000]);
  await store.close();
});

test("two Stores share one stage through the sidecar (join): conflicts rebase, counts stay exact", async () => {
  const a = new Store(await connectHttpLog({ url: s.url, token: TOKENS.write }), {
    platform: runtimePlatform,
  });
  const b = new Store(await connectHttpLog({ url: s.url, token: TOKENS.write }), {
    platform: runtimePlatform,
  });
  const ra = await a.stage("pair").begin({ total: 400, join: true });
  const rb = await b.stage("pair").begin({ total: 400, join: true });
  assert.is(rb.id, ra.id, "b joined a's run");
  // Each works through its half 20 items at a time, as a worker with concurrent tasks would.
  const work = async (run: typeof ra, parity: number) => {
    const mine = Array.from({ length: 200 }, (_, k) => 2 * k + parity);
    for (let k = 0; k < mine.length; k += 20) {
      await Promise.all(mine.slice(k, k + 20).map((i) => run.done(i)));
    }
  };
  await Promise.all([work(ra, 0), work(rb, 1)]);
  await ra.close();
  await rb.close();
  // Whoever completes must have seen every worker's items: joining afresh catches up first.
  const last = await a.stage("pair").begin({ join: true });
  assert.is(last.id, ra.id);
  assert.is(last.resumed.skipped, 400);
  await last.complete();
  const st =
    (await (await fetch(`${s.url}/v1/stages/pair`, { headers: bearer(TOKENS.read) })).json()) as {
      status: string;
      counters: { processed: number; duplicates: number };
      resume: { watermark: number };
    };
  assert.equal([st.status, st.counters.processed, st.counters.duplicates, st.resume.watermark], [
    "completed",
    400,
    0,
    400,
  ]);
  await a.close();
  await b.close();
});

test.run();
