/**
 * The `--eventstore` target, through the real EventStoreDB client against the test suite's protocol
 * double.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Store as StoreT } from "../../core/store.ts";
import { cli } from "./helpers.ts";

let esdb: { connectionString: string; close(): Promise<void> } | undefined;
let skipped: string | undefined;

test.before(async () => {
  try {
    const { startDouble } = await import("../esdb-double/index.ts");
    esdb = await startDouble();
  } catch (e) {
    skipped = `no EventStoreDB double in this build (${(e as Error).message})`;
  }
});
test.after(async () => {
  await esdb?.close();
});

async function store(): Promise<StoreT> {
  const [{ eventStoreLog }, { Store }, { runtimePlatform }] = await Promise.all([
    import("../../adapters/eventstoredb.ts"),
    import("../../core/store.ts"),
    import("../../runtime/platform.ts"),
  ]);
  return new Store(eventStoreLog({ connectionString: esdb!.connectionString }), {
    platform: runtimePlatform,
  });
}

test("list, show, replay, report, verify, export and reset through --eventstore", async () => {
  if (skipped) return console.log(`skipped: ${skipped}`);
  const s = await store();
  const run = await s.stage("crawl").begin({ total: 10 });
  for (let i = 0; i < 10; i++) await run.done(i, { item: `page-${i}` });
  await run.complete();
  await s.close();
  const conn = ["--eventstore", esdb!.connectionString];
  const list = await cli(["list", ...conn]);
  assert.is(list.code, 0, list.err);
  assert.match(list.out, /crawl\s+completed\s+10\/10 \(100\.0%\)/);
  assert.is(
    JSON.parse((await cli(["show", "crawl", "--json", ...conn])).out).state.resume.lastItem,
    "page-9",
  );
  assert.is(
    (await cli(["replay", "crawl", "--json", ...conn])).out.trimEnd().split("\n").length,
    12,
  );
  assert.match((await cli(["report", ...conn])).out, "items:        10/10 (100.0%)");
  const verify = await cli(["verify", ...conn]);
  assert.is(verify.code, 0, verify.out + verify.err);
  assert.is(JSON.parse((await cli(["export", ...conn])).out).stages[0].events.length, 12);
  assert.is((await cli(["reset", "crawl", "--force", ...conn])).code, 0);
  assert.is(
    JSON.parse((await cli(["show", "crawl", "--json", ...conn])).out).state.status,
    "initialized",
  );
  const env = await cli(["list", "--json"], { env: { CKPT_EVENTSTORE: esdb!.connectionString } });
  assert.is(JSON.parse(env.out)[0].stage, "crawl");
});

test("an unreachable EventStoreDB is a coded error, not a stack trace", async () => {
  if (skipped) return;
  const r = await cli(["list", "--eventstore", "esdb://127.0.0.1:1?tls=false"]);
  assert.is(r.code, 1);
  assert.match(r.err, /^error CKPT_\w+: /);
  assert.not.match(r.err, /\n\s+at /);
});

test.run();
