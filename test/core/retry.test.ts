/**
 * The one retry loop and the one URL redaction: budgets end it, jitter stays under the ceiling, no
 * secret survives.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { backoffDelay, retry } from "../../core/retry.ts";
import { redactUrl } from "../../core/redact.ts";
import { manualClock } from "../helpers/manual-clock.ts";

test("retry: resolves on the first success and passes the attempt number", async () => {
  const seen: number[] = [];
  const v = await retry(async (a) => {
    seen.push(a);
    if (a < 2) throw new Error("again");
    return "ok";
  }, { retryable: () => true, backoff: false });
  assert.is(v, "ok");
  assert.equal(seen, [0, 1, 2]);
});

test("retry: a failure that is not retryable ends the loop with that error", async () => {
  let calls = 0;
  const err = await retry(async () => {
    calls++;
    throw new Error(calls === 1 ? "transient" : "fatal");
  }, { retryable: (e) => (e as Error).message === "transient", backoff: false }).catch((e) => e);
  assert.is((err as Error).message, "fatal");
  assert.is(calls, 2);
});

test("retry: attempts caps the tries and rethrows the last failure", async () => {
  let calls = 0;
  const err = await retry(async () => {
    throw new Error(`try ${++calls}`);
  }, { retryable: () => true, attempts: 3, backoff: false }).catch((e) => e);
  assert.is((err as Error).message, "try 3");
  assert.is(calls, 3);
});

test("retry: forMs gives up on the injected clock, waiting through it (no real sleep)", async () => {
  const clock = manualClock(1_000);
  let calls = 0;
  const p = retry(async () => {
    calls++;
    throw new Error("down");
  }, {
    retryable: () => true,
    forMs: 1_000,
    backoff: { firstMs: 100, maxMs: 100 },
    random: () => 0.5,
    clock,
  }).catch((e) => e);
  for (let i = 0; i < 40 && calls < 30; i++) {
    await new Promise((r) => setImmediate(r));
    clock.advance(50);
  }
  const err = await p;
  assert.is((err as Error).message, "down");
  // 50 ms per wait within a 1 s budget: about 20 tries, never unbounded.
  assert.ok(calls >= 15 && calls <= 22, `calls ${calls}`);
});

test("retry: onRetry runs before each further try", async () => {
  const log: string[] = [];
  await retry(async (a) => {
    log.push(`try ${a}`);
    if (a === 0) throw new Error("x");
  }, { retryable: () => true, backoff: false, onRetry: (_e, a) => void log.push(`reread ${a}`) });
  assert.equal(log, ["try 0", "reread 0", "try 1"]);
});

test("retry: delay overrides the backoff for the failures that say how long to wait", async () => {
  const clock = manualClock(0);
  const waits: number[] = [];
  const realSetTimeout = clock.setTimeout.bind(clock);
  clock.setTimeout = (fn: () => void, ms: number) => {
    waits.push(ms);
    return realSetTimeout(fn, ms);
  };
  const p = retry(async (a) => {
    if (a < 2) throw new Error(a === 0 ? "busy" : "down");
    return a;
  }, {
    retryable: () => true,
    backoff: { firstMs: 100, maxMs: 100 },
    random: () => 0.5,
    delay: (e) => ((e as Error).message === "busy" ? 700 : undefined),
    clock,
  });
  for (let i = 0; i < 20 && waits.length < 2; i++) {
    await new Promise((r) => setImmediate(r));
    clock.advance(1_000);
  }
  assert.is(await p, 2);
  assert.equal(waits, [700, 50], "the failure's own wait first, then the backoff");
});

test("backoffDelay: full jitter under a doubling ceiling, floored, capped", () => {
  const b = { firstMs: 50, maxMs: 2_000, minMs: 5 };
  assert.is(backoffDelay(0, b, () => 0), 5);
  assert.is(backoffDelay(0, b, () => 0.999), 49);
  assert.is(backoffDelay(3, b, () => 0.999), 399);
  assert.is(backoffDelay(50, b, () => 0.999), 1_998);
});

test("redactUrl: no password or query survives, the user and host stay", () => {
  const table: Array<[string, string]> = [
    [
      "postgres://user:s3cret@db.example:5432/ckpt?sslpassword=x",
      "postgres://user@db.example:5432/ckpt",
    ],
    ["esdb://admin:changeit@localhost:2113?tls=false", "esdb://admin@localhost:2113"],
    [
      "esdb+discover://admin:changeit@a:2113,b:2113,c:2113?tls=false",
      "esdb+discover://admin@a:2113,b:2113,c:2113",
    ],
    ["http://:tok3n@127.0.0.1:7410/", "http://127.0.0.1:7410/"],
    ["https://sidecar.internal:7410", "https://sidecar.internal:7410"],
    ["http://u:p@h/x#frag", "http://u@h/x"],
    ["not a url with pw@host", "…@host"],
    ["/var/lib/ckpt", "/var/lib/ckpt"],
  ];
  for (const [input, want] of table) {
    const got = redactUrl(input);
    assert.is(got, want, input);
    assert.not.ok(/s3cret|changeit|tok3n|sslpassword|:p@/.test(got), got);
  }
});

test.run();
