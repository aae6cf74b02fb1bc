/**
 * PostgreSQL faults (a server of this file's own, since it is restarted): the server crashing and
 * coming back mid-run, backends killed with pg_terminate_backend mid-flush, statements cancelled by
 * statement_timeout. Each ends in a transparent retry or a coded error; never an acknowledged event
 * lost, never a revision or an item written twice; the run continues once the server is back.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { type PostgresLog, postgresLog } from "../../adapters/postgres.ts";
import { Store } from "../../core/store.ts";
import { runtimePlatform } from "../../runtime/platform.ts";
import { adminPool, startPostgres, uniqueSchema } from "../helpers/postgres-server.ts";

// Restarting a server other files share would break them: this file always starts its own.
const server = await startPostgres();
let admin = adminPool(server.url);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test.after(async () => {
  await admin.end().catch(() => undefined);
  await server.close();
});

/**
 * Exact checks in the table: every acknowledged index stored once, no other index twice, revisions
 * 0..head.
 */
async function checkTable(
  schema: string,
  stage: string,
  acked: Set<number>,
): Promise<Map<number, number>> {
  const rows = await admin.rows(
    `select (data::json->>'index')::int as i, count(*)::int as n from "${schema}".events where stage = $1 and data::json->>'type' = 'item' group by 1`,
    [stage],
  );
  const counts = new Map<number, number>(rows.map((r) => [r.i as number, r.n as number]));
  for (const [i, n] of counts) assert.is(n, 1, `index ${i} stored ${n} times`);
  for (const i of acked) assert.is(counts.get(i), 1, `acknowledged index ${i} lost`);
  const [rev] = await admin.rows(
    `select count(*)::int as n, coalesce(max(revision), -1)::int as hi from "${schema}".events where stage = $1`,
    [stage],
  );
  assert.is(rev!.hi, rev!.n - 1, "revisions have a gap or a duplicate");
  const [head] = await admin.rows(`select head::int from "${schema}".streams where stage = $1`, [
    stage,
  ]);
  assert.is(head!.head, rev!.hi, "the head row disagrees with the events");
  return counts;
}

/**
 * Marks `total` items, 16 in flight at a time, while `fault` runs alongside (`finished()` turns
 * true once the marking has ended, either way); returns what was acknowledged.
 */
async function markAll(
  store: Store,
  stage: string,
  total: number,
  fault: (progress: () => number, finished: () => boolean) => Promise<void>,
): Promise<Set<number>> {
  const run = await store.stage(stage).begin({ total });
  const acked = new Set<number>();
  let finished = false;
  const work = (async () => {
    try {
      for (let i = 0; i < total; i += 16) {
        await Promise.all(
          Array.from(
            { length: Math.min(16, total - i) },
            (_, k) => run.done(i + k).then(() => void acked.add(i + k)),
          ),
        );
      }
    } finally {
      finished = true;
    }
  })();
  await Promise.all([work, fault(() => acked.size, () => finished)]);
  await run.complete();
  return acked;
}

async function open(
  schema: string,
  extra: Partial<Parameters<typeof postgresLog>[0]> = {},
): Promise<{ store: Store; log: PostgresLog }> {
  const log = await postgresLog({ url: server.url, schema, max: 4, ...extra });
  return { store: new Store(log, { platform: runtimePlatform }), log };
}

test("the server crashes (immediate stop) and restarts mid-run: appends retry, nothing lost or doubled", async () => {
  const schema = uniqueSchema("r");
  const { store } = await open(schema, { retryForMs: 60_000 });
  try {
    const acked = await markAll(store, "s", 1500, async (progress, finished) => {
      while (progress() < 300 && !finished()) await sleep(5);
      await server.stop();
      await sleep(1000); // appends in flight fail, retries find the port closed
      await server.start();
    });
    await admin.end().catch(() => undefined);
    admin = adminPool(server.url);
    const counts = await checkTable(schema, "s", acked);
    assert.is(counts.size, 1500);
    const s = await store.stage("s").state();
    assert.is(s.status, "completed");
    assert.is(s.counters.processed, 1500);
    assert.is(s.counters.duplicates, 0);
  } finally {
    await store.close().catch(() => undefined);
  }
});

test("backends killed with pg_terminate_backend mid-flush: appends retry, nothing lost or doubled", async () => {
  const schema = uniqueSchema("k");
  const { store } = await open(schema);
  let killed = 0;
  try {
    const acked = await markAll(store, "s", 1500, async (_, finished) => {
      // Often enough to land in flushes (and in the snapshot transactions), rarely enough that a
      // fresh connection can log in.
      while (!finished()) {
        const rows = await admin.rows(
          `select pg_terminate_backend(pid) as ok from pg_stat_activity where application_name = 'ckpt' and datname = current_database()`,
        );
        killed += rows.filter((r) => r.ok).length;
        await sleep(150 + Math.random() * 250);
      }
    });
    assert.ok(killed > 0, "no backend was killed");
    const counts = await checkTable(schema, "s", acked);
    assert.is(counts.size, 1500);
    const s = await store.stage("s").state();
    assert.is(s.counters.processed, 1500);
    assert.is(s.counters.duplicates, 0);
    console.log(`    (${killed} backends terminated)`);
  } finally {
    await store.close().catch(() => undefined);
  }
});

test("statement timeout: retried transparently while it clears; past retryForMs a coded error, nothing written, and the run continues", async () => {
  const schema = uniqueSchema("t");
  const { store, log } = await open(schema, { statementTimeoutMs: 150, retryForMs: 5_000 });
  let second: Store | undefined;
  try {
    const run = await store.stage("s").begin({ total: 20, leaseMs: 60_000 });
    await run.done(0);
    // Another session holds the stage's head row: every append now waits, then hits
    // statement_timeout.
    const holdFor = (ms: number) =>
      admin.transaction(async (tx) => {
        await tx.query(`select head from "${schema}".streams where stage = 's' for update`);
        await sleep(ms);
      });
    const held = holdFor(1200);
    await sleep(100);
    await run.done(1); // cancelled several times, then lands once the lock is gone
    await held;
    const acked = new Set([0, 1]);
    await checkTable(schema, "s", acked);

    // Now longer than the log will retry: CKPT_UNAVAILABLE, and the batch is not in the table.
    const before = (await log.info("s"))!.head;
    const quick = await postgresLog({
      url: server.url,
      schema,
      statementTimeoutMs: 150,
      retryForMs: 300,
    });
    second = new Store(quick, { platform: runtimePlatform });
    const joined = await second.stage("s").begin({ join: true });
    const longHold = holdFor(2000);
    await sleep(100);
    let code: string | undefined;
    await joined.done(2).catch((e) => (code = e.code));
    assert.is(code, "CKPT_UNAVAILABLE");
    await longHold;
    assert.is((await log.info("s"))!.head, before, "a timed-out append left events behind");
    // The run goes on: the first store was never affected and finishes the stage.
    for (let i = 2; i < 20; i++) {
      await run.done(i);
      acked.add(i);
    }
    await run.complete();
    const counts = await checkTable(schema, "s", acked);
    assert.is(counts.size, 20);
    assert.is((await store.stage("s").state()).counters.processed, 20);
  } finally {
    await second?.close().catch(() => undefined);
    await store.close().catch(() => undefined);
  }
});

test.run();
