/**
 * A seeded, bounded fuzz run against a real ckpt-server process over LevelDB: every route in its
 * OpenAPI document × every credential (none, wrong, read, write, admin), with malformed, deep, huge
 * and wrong-typed bodies, bad paths and queries, and some valid writes so stages exist and move.
 * It asserts 0 responses 5xx, the sidecar never exits, batches of refused requests leave the log
 * exactly as it was, `ckpt verify` is clean afterwards; it prints the sidecar's peak RSS.
 * CKPT_FUZZ_REQUESTS and CKPT_FUZZ_SEED change the size and the seed.
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runBin } from "../cli/helpers.ts";
import { tempDir } from "../helpers/tmp.ts";
import { isDeno, serverEntry, sleep, spawnTs, TOKEN_SPEC, TOKENS } from "./helpers.ts";

const REQUESTS = Number(process.env.CKPT_FUZZ_REQUESTS ?? 20_000);
const SEED = Number(process.env.CKPT_FUZZ_SEED ?? 1515);
const BATCH = 64;
const MAX_RSS_MIB = 1024;

/** mulberry32: small, seeded, good enough to pick cases. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}

const CREDENTIALS = [
  undefined,
  "wrong-token-0123456789",
  TOKENS.read,
  TOKENS.write,
  TOKENS.admin,
] as const;
const STAGES = ["alpha", "beta", "gamma"];
const BAD_NAMES = [
  "..",
  "%2e%2e",
  ".hidden",
  "a%2Fb",
  "a%00b",
  "%C3%A9t%C3%A9",
  "s".repeat(300),
  "%",
  "%zz",
  "nosuch/../alpha",
  "a b",
  "~tilde",
];
const deep = (n: number) => '{"a":'.repeat(n) + "1" + "}".repeat(n);
const deepArray = (n: number) => "[".repeat(n) + "]".repeat(n);

test("fuzz: every route × every credential, bad bodies, paths and queries: no 5xx, no exit, refused requests change nothing, verify clean", async () => {
  const dir = await tempDir("ckpt-fuzz-");
  const store = `${dir.path}/store`;
  const child = spawnTs(serverEntry, [
    "--store",
    store,
    "--port",
    "0",
    "--durability",
    "os",
    "--request-timeout",
    "5s",
  ], { CKPT_TOKENS: TOKEN_SPEC });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
  try {
    while (!/listening on (http:\/\/\S+)/.test(out)) {
      if (child.exitCode !== null) throw new Error(`server exited: ${err}`);
      await sleep(20);
    }
    const url = /listening on (http:\/\/\S+)/.exec(out)![1]!.replace(/\/$/, "");
    const auth = (
      t: string | undefined,
    ): Record<string, string> => (t ? { authorization: `Bearer ${t}` } : {});
    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => ({ method: m.toUpperCase(), path }))
    );
    assert.ok(routes.length >= 15, `routes from /openapi.json: ${routes.length}`);

    const r = rng(SEED);
    // Valid pieces so that some requests get through and the stages have real state to protect.
    const runIds = new Map<string, string>();
    const validUpdate = () => ({ updates: [{ type: "item", index: r.int(5000) }] });
    const now = Date.now();
    const validEvents = () => ({
      events: [{ type: "metadata", v: 1, at: now, metadata: { k: r.int(100) } }],
    });
    const bodies: Array<() => { text: string | Uint8Array; type?: string }> = [
      () => ({ text: "" }),
      () => ({ text: "{" }),
      () => ({ text: '{"updates": [ {"type": "item", ' }),
      () => ({ text: "null" }),
      () => ({ text: "[1,2,3]" }),
      () => ({ text: '"just a string"' }),
      () => ({ text: deep(65 + r.int(r.next() < 0.1 ? 5000 : 500)) }),
      () => ({ text: `{"updates":[{"type":"metadata","metadata":${deep(100 + r.int(3000))}}]}` }),
      () => ({ text: `{"config":${deepArray(65 + r.int(r.next() < 0.1 ? 5000 : 500))}}` }),
      () => ({
        text: `{"events":[{"type":"metadata","v":1,"at":1,"metadata":${deep(65 + r.int(2000))}}]}`,
      }),
      // Over the 1 MiB limit now and then; bodies near it the rest of the time (megabytes per
      // request add up).
      () => ({
        text: JSON.stringify({
          updates: [{
            type: "error",
            message: "x".repeat(r.next() < 0.15 ? 1100 * 1024 : 2048 + r.int(64 * 1024)),
          }],
        }),
      }),
      () => ({
        text: JSON.stringify({
          events: Array.from(
            { length: 50 },
            (_, i) => ({ type: "item", v: 1, at: 1, index: -i, outcome: "ok" }),
          ),
        }),
      }),
      () => ({
        text: JSON.stringify({
          revision: r.int(5),
          base: {
            revision: r.int(3),
            version: 1,
            state: r.pick([{}, null, [], "x", { state: {} }]),
          },
        }),
      }),
      () => ({ text: JSON.stringify({ revision: 1e300, version: -1, state: {} }) }),
      () => ({ text: JSON.stringify({ total: "ten", join: "yes", leaseMs: -5 }) }),
      () => ({ text: JSON.stringify({ maxEvents: -1, minEvents: "x", prefix: 5 }) }),
      () => ({ text: JSON.stringify({ updates: [{ type: "explode" }] }) }),
      () => ({ text: JSON.stringify({ updates: [{ type: "item", index: 1.5 }] }) }),
      () => ({
        text: JSON.stringify({
          __proto__: { polluted: true },
          constructor: { prototype: { x: 1 } },
        }),
      }),
      () => ({ text: new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]) }),
      () => ({ text: '{"updates":[]}', type: "text/plain" }),
      () => ({ text: '{"updates":[]}', type: "application/json; charset=latin1" }),
      () => ({ text: Array.from({ length: 64 }, () => String.fromCharCode(r.int(256))).join("") }),
      () => ({ text: JSON.stringify(validUpdate()) }),
      () => ({ text: JSON.stringify(validEvents()) }),
      () => ({ text: JSON.stringify({ total: 5000, join: true, leaseMs: 600_000 }) }),
    ];
    const queries = [
      "",
      "?from=-1",
      "?from=1&from=2",
      "?limit=abc",
      "?prefix=al",
      "?colour=red",
      "?since=tomorrow",
      "?which=base",
      "?which=nope",
      "?direction=sideways",
      "?from=99999999999999999999",
      "?status=running",
    ];

    function makeRequest(): { url: string; init: RequestInit; writes: boolean } {
      const route = r.pick(routes);
      const stage = r.next() < 0.75 ? r.pick(STAGES) : r.pick(BAD_NAMES);
      const runId = r.next() < 0.6
        ? runIds.get(stage) ?? crypto.randomUUID()
        : r.pick(["not-a-run", "..%2Fx", crypto.randomUUID()]);
      const path = route.path.replace(/\{stage\}|\{stream\}/g, stage).replace(/\{runId\}/g, runId);
      const method = r.next() < 0.9
        ? route.method
        : r.pick(["GET", "POST", "PUT", "DELETE", "PATCH"]);
      const headers: Record<string, string> = { ...auth(r.pick(CREDENTIALS)) };
      let bodyInit: BodyInit | undefined;
      if (method !== "GET" && method !== "DELETE" && r.next() < 0.95) {
        const b = r.pick(bodies)();
        headers["content-type"] = b.type ?? "application/json";
        bodyInit = b.text as BodyInit;
      }
      if (r.next() < 0.05) headers["if-match"] = r.pick(['"0"', "yesterday", '"99999"', "*"]);
      if (r.next() < 0.03) headers["if-none-match"] = r.pick(["*", "x"]);
      const q = r.next() < 0.3 ? r.pick(queries) : "";
      return {
        url: url + path + q,
        init: {
          method,
          headers,
          ...(bodyInit === undefined ? {} : { body: bodyInit }),
          signal: AbortSignal.timeout(30_000),
        },
        writes: method !== "GET",
      };
    }

    const heads = async () => {
      const res = await fetch(`${url}/v1/log/streams`, { headers: auth(TOKENS.read) });
      assert.is(res.status, 200);
      return JSON.stringify(
        ((await res.json()) as { streams: { stream: string; head: number; first: number }[] })
          .streams.map((s) => [s.stream, s.head, s.first]),
      );
    };

    // Stages with live runs first, so updates, snapshots and truncations have something real to
    // hit.
    for (const st of STAGES) {
      const res = await fetch(`${url}/v1/stages/${st}/runs`, {
        method: "POST",
        headers: { ...auth(TOKENS.write), "content-type": "application/json" },
        body: JSON.stringify({ total: 5000, leaseMs: 600_000 }),
      });
      runIds.set(st, ((await res.json()) as { runId: string }).runId);
    }

    const byStatus: Record<number, number> = {};
    const fivexx: string[] = [];
    let sent = 0;
    let checkedBatches = 0;
    let peakRss = 0;
    const rss = () => {
      try {
        const kb = Number(
          /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1],
        );
        if (kb > 0) peakRss = Math.max(peakRss, kb);
      } catch {
        // not Linux: no figure
      }
    };
    while (sent < REQUESTS) {
      const batch = Array.from({ length: Math.min(BATCH, REQUESTS - sent) }, makeRequest);
      const before = await heads();
      const results = await Promise.all(
        batch.map(async (q) => {
          try {
            const res = await fetch(q.url, q.init);
            // A live-update stream never ends: hang up once it answered (a client going away is
            // part of the fuzz).
            if (res.headers.get("content-type")?.startsWith("text/event-stream")) {
              await res.body?.cancel().catch(() => undefined);
            } else await res.arrayBuffer().catch(() => undefined);
            return { q, status: res.status };
          } catch (e) {
            return { q, status: -1, error: String((e as Error)?.cause ?? e) };
          }
        }),
      );
      sent += batch.length;
      let wrote = false;
      for (const x of results) {
        byStatus[x.status] = (byStatus[x.status] ?? 0) + 1;
        if (x.status >= 500) {
          fivexx.push(
            `${x.q.init.method} ${x.q.url.slice(url.length, url.length + 120)} → ${x.status}`,
          );
        }
        if (x.q.writes && x.status >= 200 && x.status < 300) wrote = true;
        // The sidecar may close a connection it refused (oversized bodies): that is not a crash,
        // but it must still be alive.
      }
      assert.is(child.exitCode, null, `the sidecar exited: ${err.slice(-2000)}`);
      if (!wrote) {
        assert.is(
          await heads(),
          before,
          `a batch of refused requests changed the log (statuses ${
            results.map((x) => x.status).join(",")
          })`,
        );
        checkedBatches++;
      }
      if (sent % (BATCH * 20) === 0) rss();
    }
    rss();
    assert.equal(fivexx, [], `responses 5xx: ${fivexx.slice(0, 10).join("; ")}`);
    assert.is(byStatus[-1] ?? 0, 0, "every request got an answer");
    assert.ok(checkedBatches > 0);
    assert.not.match(err, "unexpected error", err.slice(0, 2000));
    const peakMib = Math.round(peakRss / 1024);
    console.log(
      `fuzz: ${sent} requests (seed ${SEED}), statuses ${
        JSON.stringify(byStatus)
      }, ${checkedBatches} refused-only batches left the log unchanged, sidecar peak RSS ${peakMib} MiB`,
    );
    if (peakRss > 0) assert.ok(peakMib < MAX_RSS_MIB, `peak RSS ${peakMib} MiB`);

    child.kill("SIGTERM");
    const code = await exited;
    assert.match(out, "ckpt-server: stopped cleanly.", err.slice(-1000));
    // Deno's child_process reports the signal it sent rather than the exit code the child chose.
    if (!isDeno) assert.is(code, 0, `stopped cleanly: ${err.slice(-1000)}`);
    const verify = await runBin(["verify", "--store", store], { timeoutMs: 120_000 });
    assert.is(verify.code, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /Verified (\d+) stages?: \1 ok\./, verify.stdout);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    await exited;
    await dir.remove();
  }
});

test.run();
