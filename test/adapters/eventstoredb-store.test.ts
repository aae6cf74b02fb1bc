/**
 * The library over EventStoreDB (through the real client and the protocol double): several
 * processes share a stage with every update landing once, lifecycle races are CKPT_CONFLICT, and
 * run leases refuse a second owner until they expire.
 */
import { spawn } from "node:child_process";
import process from "node:process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { eventStoreLog } from "../../adapters/eventstoredb.ts";
import { Store, type StoreOptions } from "../../core/store.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { runtimePlatform } from "../../runtime/platform.ts";
import { startDouble } from "../esdb-double/index.ts";

const worker = new URL("./esdb-worker.ts", import.meta.url).pathname;
const isDeno = "Deno" in globalThis;
const command = isDeno
  ? [process.execPath, "run", "-A", worker]
  : [process.execPath, "--import", "tsx", worker];

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

type Opened = { newStore(prefix: string, options?: StoreOptions): Store; connectionString: string };

/**
 * Runs a test against a fresh double; every store it opens and the double are closed even when an
 * assertion fails, so a failing file ends instead of hanging on open gRPC handles.
 */
function withDouble(name: string, body: (t: Opened) => Promise<void>): void {
  test(name, async () => {
    const esdb = await startDouble();
    const logs: { close(): Promise<void> }[] = [];
    const newStore = (prefix: string, options: StoreOptions = {}) => {
      const log = eventStoreLog({ connectionString: esdb.connectionString, prefix });
      logs.push(log);
      return new Store(log, { platform: runtimePlatform, ...options });
    };
    try {
      await body({ newStore, connectionString: esdb.connectionString });
    } finally {
      for (const log of logs) await log.close().catch(() => undefined);
      await esdb.close();
    }
  });
}

withDouble(
  "three worker processes on one stage: every item lands exactly once",
  async ({ newStore, connectionString }) => {
    const prefix = `ckpt-w${crypto.randomUUID().slice(0, 6)}-`;
    const total = 240;
    const outputs = await Promise.all(
      [0, 1, 2].map(
        (k) =>
          new Promise<string>((resolve, reject) => {
            const p = spawn(command[0]!, [
              ...command.slice(1),
              connectionString,
              prefix,
              "shared",
              String(k),
              "3",
              String(total),
            ]);
            let out = "";
            p.stdout.on("data", (d) => (out += d));
            p.stderr.on("data", (d) => (out += d));
            p.on(
              "close",
              (
                c,
              ) => (c === 0 ? resolve(out) : reject(new Error(`worker ${k} exited ${c}: ${out}`))),
            );
          }),
      ),
    );
    assert.ok(outputs.every((o, k) => o.includes(`worker ${k} done`)));
    const store = newStore(prefix);
    const s = await store.stage("shared").state();
    assert.is(s.counters.processed, total);
    assert.is(s.counters.duplicates, 0);
    assert.is(s.cost, total);
    assert.is(s.resume.watermark, total);
    assert.is(s.runs, 1, "the workers joined one run");
  },
);

withDouble(
  "a lifecycle change that lost a race is CKPT_CONFLICT, and nothing is duplicated",
  async ({ newStore }) => {
    const prefix = `ckpt-c${crypto.randomUUID().slice(0, 6)}-`;
    const a = newStore(prefix);
    const b = newStore(prefix);
    const runA = await a.stage("s").begin({ leaseMs: 60_000 });
    const runB = await b.stage("s").begin({ join: true });
    await runA.done(0);
    await runB.done(1); // items rebase over each other
    await runA.pause("a stops it");
    assert.is(await code(runB.complete()), "CKPT_CONFLICT");
    const s = await a.stage("s").state();
    assert.is(s.status, "paused");
    assert.is(s.counters.processed, 2);
  },
);

withDouble(
  "a live lease refuses a second owner with CKPT_LOCKED; once it expires the stage is taken over",
  async ({ newStore }) => {
    const prefix = `ckpt-l${crypto.randomUUID().slice(0, 6)}-`;
    // Both "processes" share one driven clock: the lease's time passes when the test says, not by
    // sleeping.
    const clock = manualClock();
    const a = newStore(prefix, { clock });
    const b = newStore(prefix, { clock });
    const runA = await a.stage("leased").begin({ leaseMs: 1500 });
    await runA.done(0);
    try {
      await b.stage("leased").begin();
      assert.unreachable("the lease is live");
    } catch (e) {
      assert.is((e as { code: string }).code, "CKPT_LOCKED");
      assert.match((e as Error).message, String(process.pid));
    }
    // While A is alive its heartbeats keep the lease: still refused after longer than the lease.
    for (let t = 0; t < 2000; t += 100) {
      clock.advance(100); // heartbeats fall due as time passes…
      await runA.flush(); // …and land
    }
    assert.is(await code(b.stage("leased").begin()), "CKPT_LOCKED");
    // A dies without a word: its heartbeats stop.
    runA.halt();
    await a.log.close();
    clock.advance(1800);
    const runB = await b.stage("leased").begin();
    assert.is(runB.resumed.crashed, true);
    assert.is(runB.resumed.skipped, 1);
    await runB.complete();
  },
);

test.run();
