/**
 * ckpt behind PgBouncer in transaction mode (what the README suggests for hundreds of workers):
 * several stages writing at once through fewer server connections than clients, with the default
 * options. Appends are named prepared statements, which PgBouncer 1.18 does not carry from one
 * server connection to the next; the adapter must notice and go on unnamed, losing nothing.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { postgresLog } from "../../adapters/postgres.ts";
import { Store } from "../../core/store.ts";
import { startPgBouncer } from "../helpers/pgbouncer.ts";
import { adminPool, testPostgres, uniqueSchema } from "../helpers/postgres-server.ts";

const server = await testPostgres();
const admin = adminPool(server.url);
const bouncer = await startPgBouncer(server, 2).catch(async (e) => {
  await admin.end();
  await server.close();
  throw e;
});

test.after(async () => {
  await bouncer.close();
  await admin.end();
  await server.close();
});

test("6 stages × 16 awaiting workers through PgBouncer (transaction mode, 2 server connections): every update acknowledged and stored once", async () => {
  const schema = uniqueSchema("b");
  const store = new Store(await postgresLog({ url: `${bouncer.url}?schema=${schema}`, max: 6 }));
  const STAGES = 6;
  const PER_STAGE = 16 * 40;
  try {
    await Promise.all(
      Array.from({ length: STAGES }, async (_, s) => {
        const run = await store.stage(`s${s}`).begin();
        let next = 0;
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            while (next < PER_STAGE) await run.done(next++);
          }),
        );
        assert.is(run.state.counters.processed, PER_STAGE);
        await run.complete();
      }),
    );
  } finally {
    await store.close();
  }
  // Read back past the pooler, straight from the server.
  const { rows } = await admin.query(
    `select stage, count(*)::int as n, count(distinct data)::int as distinct_n from "${schema}".events
       where data like '{"type":"item"%' group by stage order by stage`,
  );
  assert.equal(
    rows,
    Array.from(
      { length: STAGES },
      (_, s) => ({ stage: `s${s}`, n: PER_STAGE, distinct_n: PER_STAGE }),
    ),
  );
  await admin.query(`drop schema if exists "${schema}" cascade`);
});

test.run();
