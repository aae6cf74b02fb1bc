/**
 * The library, CLI and sidecar on PostgreSQL (one throwaway server for the file, a fresh schema per
 * test): 8 worker processes on one stage under random SIGKILLs with exact counts, watch woken by
 * LISTEN/NOTIFY, migrations racing, an older schema upgraded, and passwords kept out of every
 * message.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LATEST_VERSION, migrate, postgresLog } from "../../adapters/postgres.ts";
import { Store } from "../../core/store.ts";
import { open } from "../../mod.ts";
import { runtimePlatform } from "../../runtime/platform.ts";
import { cli, runBin } from "../cli/helpers.ts";
import { collect, item } from "../contract/index.ts";
import { adminPool, testPostgres, uniqueSchema } from "../helpers/postgres-server.ts";
import { serverEntry, sleep, spawnTs } from "../server/helpers.ts";

const server = await testPostgres();
const admin = adminPool(server.url);
const worker = new URL("./pg-worker.ts", import.meta.url).pathname;
const withSchema = (schema: string) => `${server.url}?schema=${schema}`;

async function code(p: Promise<unknown>): Promise<{ code?: string | undefined; message: string }> {
  try {
    await p;
  } catch (e) {
    return { code: (e as { code?: string }).code, message: String((e as Error).message) };
  }
  return { message: "resolved" };
}

test.after(async () => {
  await admin.end();
  await server.close();
});

test("8 worker processes on one stage, SIGKILLed at random: every acknowledged index done exactly once", async () => {
  const schema = uniqueSchema("w");
  const url = withSchema(schema);
  const total = 2400;
  const workers = 8;
  const acked = new Set<number>();
  let kills = 0;
  const spawnWorker = (k: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const p = spawnTs(worker, [url, "shared", String(k), String(workers), String(total)]);
      let out = "";
      let partial = "";
      p.stdout!.on("data", (d) => {
        partial += d;
        const lines = partial.split("\n");
        partial = lines.pop()!;
        for (const l of lines) if (l.startsWith("ack ")) acked.add(Number(l.slice(4)));
        out += d;
      });
      p.stderr!.on("data", (d) => (out += d));
      // Roughly every other worker is killed once, at a random moment of its run, then started
      // again.
      const killAfter = kills < 4 && Math.random() < 0.6 ? 300 + Math.random() * 2500 : undefined;
      const timer = killAfter === undefined ? undefined : setTimeout(() => {
        kills++;
        p.kill("SIGKILL");
      }, killAfter);
      p.on("close", (c, signal) => {
        if (timer) clearTimeout(timer);
        if (signal === "SIGKILL") return resolve(spawnWorker(k));
        if (c === 0 && out.includes(`worker ${k} done`)) return resolve();
        reject(new Error(`worker ${k} exited ${c}: ${out}`));
      });
    });
  // The first worker creates the stage; the others join its run.
  await Promise.all(Array.from({ length: workers }, (_, k) => spawnWorker(k)));

  const store = await open({ url });
  try {
    const s = await store.stage("shared").state();
    assert.is(s.counters.processed, total);
    assert.is(s.counters.duplicates, 0);
    assert.is(s.cost, total);
    assert.is(s.resume.watermark, total);
    assert.is(s.runs, 1, "every worker joined one run");
    for (const i of acked) assert.ok(i < total);
    // In the table itself: one item event per index, revisions 0..head with no gap.
    const [dup] = await admin.rows(
      `select count(*)::int as n from (select data::json->>'index' from "${schema}".events where data::json->>'type' = 'item' group by 1 having count(*) > 1) d`,
    );
    assert.is(dup!.n, 0, "an index was recorded twice");
    const [items] = await admin.rows(
      `select count(distinct data::json->>'index')::int as n from "${schema}".events where data::json->>'type' = 'item'`,
    );
    assert.is(items!.n, total);
    const [rev] = await admin.rows(
      `select count(*)::int as n, max(revision)::int as hi from "${schema}".events`,
    );
    assert.is(rev!.hi, rev!.n - 1);
    console.log(`    (${kills} workers SIGKILLed, ${acked.size} acks seen)`);
  } finally {
    await store.close();
  }
});

test("watch in another process is woken by LISTEN/NOTIFY, not by polling", async () => {
  const url = withSchema(uniqueSchema("n"));
  const writer = await open({ url });
  const watcher = await open({ url });
  const ac = new AbortController();
  try {
    const run = await writer.stage("live").begin({ total: 3 });
    await run.done(0);
    // pollMs so long that only a notification can deliver the next events within the test.
    const seen: number[] = [];
    const watching = (async () => {
      for await (
        const { event } of watcher.stage("live").watch({ signal: ac.signal, pollMs: 3_600_000 })
      ) {
        if (event.type === "item") seen.push(event.index);
        if (seen.length === 2) ac.abort();
      }
    })();
    await sleep(300);
    await run.done(1);
    await run.done(2);
    const timeout = sleep(15_000).then(() => "timeout");
    assert.is(await Promise.race([watching.then(() => "woken"), timeout]), "woken");
    assert.equal(seen, [1, 2]);
    await run.complete();
  } finally {
    ac.abort();
    await writer.close();
    await watcher.close();
  }
});

test("two migrations racing: every opener succeeds, each version applied once", async () => {
  const schema = uniqueSchema("m");
  const logs = await Promise.all(
    Array.from({ length: 6 }, () => postgresLog({ url: server.url, schema, max: 1 })),
  );
  try {
    const rows = await admin.rows(`select version from "${schema}".migrations order by version`);
    assert.equal(
      rows.map((r) => r.version),
      Array.from({ length: LATEST_VERSION }, (_, i) => i + 1),
    );
    // And two processes at once, through the CLI (each its own pool and connection).
    const again = uniqueSchema("m");
    const [a, b] = await Promise.all([
      runBin(["list", "--store", withSchema(again)]),
      runBin(["list", "--store", withSchema(again)]),
    ]);
    assert.is(a.code, 0, a.stderr);
    assert.is(b.code, 0, b.stderr);
    const [n] = await admin.rows(`select count(*)::int as n from "${again}".migrations`);
    assert.is(n!.n, LATEST_VERSION);
  } finally {
    for (const l of logs) await l.close();
  }
});

test("a schema from an older version is upgraded in place; its events survive and watch works", async () => {
  const schema = uniqueSchema("u");
  await migrate(admin, schema, 1);
  // Written as a version-1 ckpt would: no notify trigger yet.
  await admin.query(`insert into "${schema}".streams values ('old', 1, 0, 1)`);
  await admin.query(`insert into "${schema}".events values ('old', 0, $1), ('old', 1, $2)`, [
    JSON.stringify({ type: "run.started", v: 1, at: 1, runId: "r", total: 2 }),
    JSON.stringify({ type: "item", v: 1, at: 2, index: 0, outcome: "ok" }),
  ]);
  const [before] = await admin.rows(`select max(version)::int as v from "${schema}".migrations`);
  assert.is(before!.v, 1);
  const store = await open({ url: withSchema(schema) });
  try {
    const [after] = await admin.rows(`select max(version)::int as v from "${schema}".migrations`);
    assert.is(after!.v, LATEST_VERSION);
    const s = await store.stage("old").state();
    assert.is(s.counters.processed, 1);
    const [trigger] = await admin.rows(
      `select count(*)::int as n from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and t.tgname = 'ckpt_notify'`,
      [schema],
    );
    assert.is(trigger!.n, 1);
  } finally {
    await store.close();
  }
});

test("a newer schema than this ckpt knows is refused with CKPT_INVALID", async () => {
  const schema = uniqueSchema("f");
  const log = await postgresLog({ url: server.url, schema });
  await log.close();
  await admin.rows(
    `insert into "${schema}".migrations (version, name) values (${
      LATEST_VERSION + 1
    }, 'from the future')`,
  );
  assert.is((await code(postgresLog({ url: server.url, schema }))).code, "CKPT_INVALID");
});

test("passwords never appear: location, a refused login, the CLI and the sidecar's /metrics", async () => {
  const pw = server.password;
  const schema = uniqueSchema("p");
  const log = await postgresLog({ url: withSchema(schema) });
  assert.not.match(log.location, pw);
  assert.match(log.location, schema);
  await log.close();
  const wrong = server.url.replace(encodeURIComponent(pw), "not-the-password-42");
  const bad = await code(postgresLog({ url: wrong, retryForMs: 0 }));
  assert.is(bad.code, "CKPT_UNAVAILABLE");
  assert.not.match(bad.message, "not-the-password-42");
  assert.not.match(bad.message, pw);
  assert.is((await code(postgresLog({ url: "postgres://x:y@[bad" }))).code, "CKPT_INVALID");
  assert.is(
    (await code(postgresLog({ url: server.url, schema: "Robert'); drop" }))).code,
    "CKPT_INVALID",
  );

  // The CLI through --store and through CKPT_STORE, plus DATABASE_URL behind a bare postgres://.
  const w = await open({ url: withSchema(schema) });
  const run = await w.stage("cli-stage").begin({ total: 2 });
  await run.done(0);
  await run.close();
  await w.close();
  const listed = await cli(["list", "--store", withSchema(schema)]);
  assert.is(listed.code, 0, listed.err);
  assert.match(listed.out, "cli-stage");
  assert.not.match(listed.out + listed.err, pw);
  const viaEnv = await cli(["show", "cli-stage"], { env: { CKPT_STORE: withSchema(schema) } });
  assert.is(viaEnv.code, 0, viaEnv.err);
  assert.not.match(viaEnv.out + viaEnv.err, pw);
  process.env.DATABASE_URL = withSchema(schema);
  try {
    const viaDbUrl = await cli(["list", "--store", "postgres://"]);
    assert.is(viaDbUrl.code, 0, viaDbUrl.err);
    assert.match(viaDbUrl.out, "cli-stage");
  } finally {
    delete process.env.DATABASE_URL;
  }
  const refused = await cli(["list", "--store", wrong]);
  assert.not.equal(refused.code, 0);
  assert.match(refused.err, "CKPT_UNAVAILABLE");
  assert.not.match(refused.out + refused.err, "not-the-password-42");

  // The sidecar on PostgreSQL: serves the stage, and neither its banner nor /metrics shows the
  // password.
  const side = spawnTs(serverEntry, [
    "--store",
    withSchema(schema),
    "--port",
    "0",
    "--host",
    "127.0.0.1",
  ]);
  let out = "";
  side.stdout!.on("data", (d) => (out += d));
  side.stderr!.on("data", (d) => (out += d));
  try {
    const deadline = Date.now() + 30_000;
    while (!/http:\/\/127\.0\.0\.1:\d+/.test(out) && Date.now() < deadline) await sleep(100);
    const base = out.match(/http:\/\/127\.0\.0\.1:\d+/)?.[0];
    assert.ok(base, out);
    const stages = await (await fetch(`${base}/v1/stages`)).text();
    assert.match(stages, "cli-stage");
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.not.match(metrics + out, pw);
    assert.match(out, "PostgreSQL at");
  } finally {
    side.kill("SIGTERM");
    await new Promise((r) => side.on("close", r));
  }
});

test("Store over postgresLog: leases refuse a second owner across pools with CKPT_LOCKED", async () => {
  const schema = uniqueSchema("l");
  const a = new Store(await postgresLog({ url: server.url, schema }), {
    platform: runtimePlatform,
  });
  const b = new Store(await postgresLog({ url: server.url, schema }), {
    platform: runtimePlatform,
  });
  try {
    const run = await a.stage("leased").begin({ leaseMs: 60_000 });
    await run.done(0);
    assert.is((await code(b.stage("leased").begin())).code, "CKPT_LOCKED");
    const joined = await b.stage("leased").begin({ join: true });
    await joined.done(1);
    assert.is((await a.stage("leased").state()).counters.processed, 2);
    await run.complete();
  } finally {
    await a.close();
    await b.close();
  }
});

test("the CLI unchanged on PostgreSQL: verify, export, import into another schema, compact, verify again", async () => {
  const from = withSchema(uniqueSchema("e"));
  const to = withSchema(uniqueSchema("i"));
  const w = await open({ url: from });
  const run = await w.stage("job:chunk-0001").begin({ total: 300 });
  for (let i = 0; i < 300; i++) await run.done(i);
  await run.complete();
  await w.close();
  const dir = await mkdtemp(join(tmpdir(), "ckpt-pg-export-"));
  try {
    const verified = await cli(["verify", "--store", from]);
    assert.is(verified.code, 0, verified.out + verified.err);
    const file = join(dir, "backup.json");
    const exported = await cli(["export", "-o", file, "--store", from]);
    assert.is(exported.code, 0, exported.err);
    const imported = await cli(["import", file, "--store", to]);
    assert.is(imported.code, 0, imported.err);
    const compacted = await cli([
      "compact",
      "--keep",
      "20",
      "--min-keep",
      "10",
      "--prefix",
      "job:",
      "--store",
      to,
    ]);
    assert.is(compacted.code, 0, compacted.err);
    assert.match(compacted.out, "compacted");
    const again = await cli(["verify", "--store", to]);
    assert.is(again.code, 0, again.out + again.err);
    const a = await open({ url: from });
    const b = await open({ url: to });
    try {
      const [sa, sb] = [
        await a.stage("job:chunk-0001").state(),
        await b.stage("job:chunk-0001").state(),
      ];
      assert.equal(sb.counters, sa.counters);
      assert.is(sb.status, "completed");
      assert.ok((await b.log.info("job:chunk-0001"))!.first > 0, "compaction removed nothing");
      const report = await cli(["report", "--prefix", "job:", "--store", to]);
      assert.is(report.code, 0, report.err);
      assert.match(report.out, "job:chunk-0001");
    } finally {
      await a.close();
      await b.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("appends go out as a named prepared statement; ?prepare=false (or prepare: false) sends them unnamed", async () => {
  // One connection, so the session that appended is the one asked.
  const prepared = async (o: { url: string; prepare?: boolean }) => {
    const log = await postgresLog({ ...o, max: 1 });
    try {
      await log.append("s", [item(0)], { expectedRevision: "no_stream" });
      await log.append("s", [item(1)], { expectedRevision: 0 });
      await log.append("s", [item(2)], { expectedRevision: 1 });
      assert.is((await log.info("s"))?.head, 2);
      const { rows } = await log.pool.query(
        "select name, statement from pg_prepared_statements where name like 'ckpt_%'",
      );
      return rows as { name: string; statement: string }[];
    } finally {
      await log.close();
    }
  };
  const schema = uniqueSchema("p");
  const on = await prepared({ url: withSchema(schema) });
  // One per statement text: the first append's (no stream yet) and the later ones' (a revision).
  assert.is(on.length, 2, JSON.stringify(on));
  assert.ok(on.every((r) => r.statement.includes(`"${schema}".events`)));
  const off = uniqueSchema("p");
  assert.equal(await prepared({ url: `${withSchema(off)}&prepare=false` }), []);
  const offToo = uniqueSchema("p");
  assert.equal(await prepared({ url: withSchema(offToo), prepare: false }), []);
  for (const s of [schema, off, offToo]) await admin.query(`drop schema if exists "${s}" cascade`);

  const bad = await code(postgresLog({ url: `${withSchema(uniqueSchema("p"))}&prepare=no` }));
  assert.is(bad.code, "CKPT_INVALID");
  assert.match(bad.message, /prepare=true or prepare=false/);
  assert.not.match(bad.message, new RegExp(server.password));
});

test("a prepared statement the connection lost (a pooler's reset, another server connection): the append goes through unnamed", async () => {
  const schema = uniqueSchema("p");
  const log = await postgresLog({ url: withSchema(schema), max: 1 });
  try {
    await log.append("s", [item(0)], { expectedRevision: "no_stream" });
    await log.append("s", [item(1)], { expectedRevision: 0 });
    const before = await log.pool.query(
      "select name from pg_prepared_statements where name like 'ckpt_%'",
    );
    assert.is(before.rows.length, 2, "named before");
    // What PgBouncer's DISCARD ALL or a switch of server connection does: the driver still believes
    // the statement prepared, the session no longer has it (SQLSTATE 26000 at Bind).
    await log.pool.query("deallocate all");
    assert.is((await log.append("s", [item(2)], { expectedRevision: 1 })).head, 2);
    assert.is((await log.append("s", [item(3)], { expectedRevision: 2 })).head, 3);
    const { rows } = await log.pool.query(
      "select name from pg_prepared_statements where name like 'ckpt_%'",
    );
    assert.equal(rows, [], "unnamed from then on");
    assert.equal(
      (await collect(log.read("s"))).map((e) => (e.event as { index: number }).index),
      [0, 1, 2, 3],
    );
  } finally {
    await log.close();
    await admin.query(`drop schema if exists "${schema}" cascade`);
  }
});

test.run();
