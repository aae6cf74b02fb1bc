/**
 * PostgreSQL log: `await postgresLog({ url })` implements the EventLog contract on node-postgres
 * (`pg`, the only file that loads the driver, so importing `ckpt` never does).
 *
 * What maps to what (all tables in one schema, default "ckpt", created and migrated on open):
 * - `events (stage, revision, data)`: one row per event, JSON text, keyed (stage, revision);
 * - `streams (stage, head, first, updated_at)`: the head an append's expected revision is checked
 *   against;
 * - `snapshots (stage, kind, …)`: `latest` (resume) and `base` (left by truncation);
 * - an append is ONE statement (head update + multi-row insert), so one commit carries a whole
 *   group commit;
 * - a trigger NOTIFYs `<schema>_ckpt` with the stage name at commit; `subscribe` LISTENs (watch,
 *   replay --follow).
 * Connection failures mid-append are retried after checking what the server kept: an acknowledged
 * event is never lost and never written twice.
 */
import pg from "pg";
import { createHash } from "node:crypto";
import { CkptError, ErrorCode } from "../core/errors.ts";
import { backoffDelay, retry } from "../core/retry.ts";
import type { CkptEvent } from "../core/events.ts";
import type {
  AppendOptions,
  EventLog,
  ExpectedRevision,
  MaintenanceOptions,
  ReadOptions,
  RecordedEvent,
  Revision,
  Snapshot,
  StreamInfo,
  Supports,
} from "../core/log.ts";
import { checkExpected } from "./expected.ts";
import {
  describeEnv,
  isPreparedStatementLost,
  isTransient,
  isUniqueViolation,
  redactUrl,
  secretsOf,
  toCkptError,
} from "./postgres/connection.ts";
import {
  channelOf,
  checkSchemaName,
  type Lender,
  migrate,
  type Queryable,
} from "./postgres/migrations.ts";

export { isPostgresUrl, redactUrl } from "./postgres/connection.ts";
export { LATEST_VERSION, migrate } from "./postgres/migrations.ts";

export interface PostgresLogOptions {
  /**
   * `postgres://user:password@host:5432/db` (or `postgresql://`). Default: `$DATABASE_URL`, else
   * the standard PGHOST / PGPORT / PGUSER / PGPASSWORD / PGDATABASE variables.
   */
  url?: string;
  /** Schema holding ckpt's tables (created when missing). Default "ckpt". */
  schema?: string;
  /** Connections in this process's pool. Default 10. */
  max?: number;
  /**
   * How long a failing call keeps retrying transient faults (server restart, lost connection)
   * before CKPT_UNAVAILABLE. Default 30 s.
   */
  retryForMs?: number;
  /** Forwarded to the server as `statement_timeout` (ms) for this pool's sessions. */
  statementTimeoutMs?: number;
  /**
   * Send appends as a named prepared statement, parsed and planned once per connection. Default
   * true (64 awaiting workers: 1.07–1.28× the durable updates/s, bench/postgres-prepare.ts). Behind
   * a connection pooler in transaction mode that keeps no prepared statements (PgBouncer before
   * 1.21, or later without `max_prepared_statements`) the first append that finds its statement
   * missing or taken is sent again unnamed, and so is every later one; false (or `?prepare=false`
   * in the URL) never tries.
   */
  prepare?: boolean;
}

export interface PostgresLog extends EventLog {
  readonly schema: string;
  /** The driver's connection pool (for admin tasks). */
  readonly pool: pg.Pool;
  /** Bytes of ckpt's tables in the schema, indexes and TOAST included. */
  sizeBytes(): Promise<number>;
}

/** Events per page on replay (one query each). */
const PAGE = 10_000;

/**
 * Connects, creates or upgrades the schema, and returns the log.
 * @example
 * const log = await postgresLog({ url: "postgres://ckpt@db.internal/pipelines", schema: "ckpt" });
 * const store = new Store(log);
 */
export async function postgresLog(options: PostgresLogOptions = {}): Promise<PostgresLog> {
  const env = (name: string): string | undefined =>
    (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env[name];
  // A bare `postgres://` means "from the environment": $DATABASE_URL, else the PG* variables.
  let url = options.url === undefined || /^postgres(ql)?:\/\/\/?$/i.test(options.url)
    ? env("DATABASE_URL")
    : options.url;
  let schema = options.schema;
  let prepare = options.prepare;
  if (url !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new CkptError(
        ErrorCode.INVALID,
        `Invalid PostgreSQL URL ${
          redactUrl(url)
        }: use postgres://user:password@host:5432/database.`,
      );
    }
    // `?schema=` is ckpt's, not a server setting: taken out before the driver sends the rest as
    // startup parameters.
    const fromUrl = parsed.searchParams.get("schema");
    if (fromUrl !== null) {
      parsed.searchParams.delete("schema");
      schema ??= fromUrl;
      url = parsed.toString();
    }
    // `?prepare=` is ckpt's too.
    const prepareParam = parsed.searchParams.get("prepare");
    if (prepareParam !== null) {
      if (prepareParam !== "true" && prepareParam !== "false") {
        throw new CkptError(
          ErrorCode.INVALID,
          `Invalid ?prepare=${JSON.stringify(prepareParam)} in the PostgreSQL URL ${
            redactUrl(url)
          }: use prepare=true or prepare=false.`,
          { issues: [{ path: ["url", "prepare"], message: "expected true or false" }] },
        );
      }
      parsed.searchParams.delete("prepare");
      prepare ??= prepareParam === "true";
      url = parsed.toString();
    }
  }
  schema ??= "ckpt";
  checkSchemaName(schema);
  const where = url ? redactUrl(url) : describeEnv(env);
  const location = `${where} (schema ${schema})`;
  const secrets = secretsOf(url, env);
  // Without a connection string pg reads PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE itself.
  const config: pg.ClientConfig = {
    ...(url ? { connectionString: url } : {}),
    application_name: "ckpt",
    connectionTimeoutMillis: 10_000,
    ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
  };
  const log = new PgLog(
    config,
    options.max ?? 10,
    schema,
    location,
    secrets,
    options.retryForMs ?? 30_000,
    prepare ?? true,
  );
  try {
    await log.retrying("migration", () => migrate(log.db, schema));
  } catch (e) {
    await log.close().catch(() => undefined);
    throw e;
  }
  return log;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A query on the pool or a lent connection, as the named prepared statement `name` if given. */
function send(
  q: pg.Pool | pg.PoolClient,
  text: string,
  params: unknown[] | undefined,
  name: string | undefined,
): Promise<{ rows: Record<string, unknown>[] }> {
  return name === undefined ? q.query(text, params) : q.query({ name, text, values: params ?? [] });
}

/** The pool as migrations and the log use it: a query, or one connection lent for a transaction. */
class Db implements Lender {
  constructor(readonly pool: pg.Pool) {}
  query(
    text: string,
    params?: unknown[],
    name?: string,
  ): Promise<{ rows: Record<string, unknown>[] }> {
    return send(this.pool, text, params, name);
  }
  async rows(text: string, params?: unknown[]): Promise<Record<string, unknown>[]> {
    return (await this.pool.query(text, params)).rows;
  }
  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    // A checked-out client whose socket drops emits "error" besides failing its query: without a
    // handler, that would crash the process.
    const onError = (e: Error) => (broken = e);
    client.on("error", onError);
    try {
      await client.query("begin");
      const tx: Queryable = { query: (text, params, name) => send(client, text, params, name) };
      const out = await fn(tx);
      await client.query("commit");
      return out;
    } catch (e) {
      await client.query("rollback").catch((r: Error) => (broken = r));
      throw e;
    } finally {
      // A connection that could not even roll back is dropped, not handed to the next caller.
      client.off("error", onError);
      client.release(broken ?? false);
    }
  }
}

class PgLog implements PostgresLog {
  readonly supports: Supports = {
    durable: true,
    multiProcess: true,
    atomicSnapshot: true,
    reclaimsSpace: false,
  };
  private readonly S: string;
  private readonly listeners = new Map<string, Set<() => void>>();
  private listening: Promise<void> | undefined;
  private listenClient: pg.Client | undefined;
  private closed = false;
  /** Prepared statement names by text (three texts per log). */
  private readonly statementNames = new Map<string, string>();
  readonly pool: pg.Pool;
  readonly db: Db;

  constructor(
    private readonly config: pg.ClientConfig,
    max: number,
    readonly schema: string,
    readonly location: string,
    private readonly secrets: readonly string[],
    private readonly retryForMs: number,
    private prepare: boolean,
  ) {
    this.S = `"${schema}"`;
    this.pool = new pg.Pool({ ...config, max });
    // An idle connection the server drops (restart, pg_terminate_backend) is reported here; the
    // next query simply gets a fresh one, so the event must not crash the process.
    this.pool.on("error", () => undefined);
    this.db = new Db(this.pool);
  }

  /**
   * Runs an idempotent call, retrying transient faults with backoff until `retryForMs` has passed.
   */
  async retrying<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await retry(async () => (this.assertOpen(), await call()), this.transient());
    } catch (e) {
      throw this.error(e, what);
    }
  }

  /** Retry transient faults (never once closed) until `retryForMs` has passed. */
  private transient() {
    return { retryable: (e: unknown) => isTransient(e) && !this.closed, forMs: this.retryForMs };
  }

  async append(
    stream: string,
    events: readonly CkptEvent[],
    options: AppendOptions,
  ): Promise<{ head: Revision }> {
    this.assertOpen();
    const expected = options.expectedRevision;
    if (events.length === 0) {
      const info = await this.info(stream);
      this.check(stream, expected, info?.head);
      return { head: info?.head ?? -1 };
    }
    const datas = events.map((e) => JSON.stringify(e));
    const what = `append to "${stream}"`;
    try {
      return await retry(async (attempt) => {
        this.assertOpen();
        if (attempt > 0) {
          // The last commit may or may not have happened: look before re-sending.
          const kept = await this.retrying(what, () => this.committed(stream, datas, expected));
          if (kept !== undefined) {
            if (options.snapshot) await this.saveSnapshot(stream, options.snapshot);
            return { head: kept };
          }
        }
        // Whether this attempt goes out named: appends in flight for other stages may turn
        // `prepare` off before this one fails.
        const named = this.prepare;
        try {
          return { head: await this.appendOnce(stream, datas, expected, options.snapshot, named) };
        } catch (e) {
          if (!named || !isPreparedStatementLost(e)) throw e;
          // Behind a pooler in transaction mode that does not keep prepared statements (PgBouncer
          // before 1.21): nothing ran, so send it again unnamed, and every later append too.
          this.prepare = false;
          this.assertOpen();
          return { head: await this.appendOnce(stream, datas, expected, options.snapshot, false) };
        }
      }, this.transient());
    } catch (e) {
      throw this.error(e, what);
    }
  }

  /**
   * One statement: move the head (checking the expected revision) and insert every event; 0 rows =
   * conflict.
   */
  private async appendOnce(
    stream: string,
    datas: string[],
    expected: ExpectedRevision,
    snapshot: Snapshot | undefined,
    named: boolean,
  ): Promise<Revision> {
    const k = datas.length;
    const now = Date.now();
    const S = this.S;
    const head = expected === "any"
      ? `insert into ${S}.streams as s (stage, head, first, updated_at) values ($1, $2 - 1, 0, $3)
           on conflict (stage) do update set head = s.head + $2, updated_at = excluded.updated_at returning head`
      : expected === "no_stream"
      ? `insert into ${S}.streams (stage, head, first, updated_at) values ($1, $2 - 1, 0, $3) on conflict (stage) do nothing returning head`
      : `update ${S}.streams set head = head + $2, updated_at = $3 where stage = $1 and head = $5 returning head`;
    const text = `with h as (${head})
      insert into ${S}.events (stage, revision, data)
      select $1, h.head - $2 + t.o, t.d from h, unnest($4::text[]) with ordinality as t(d, o)
      returning (select head from h) as head`;
    const params = [stream, k, now, datas, ...(typeof expected === "number" ? [expected] : [])];
    const run = async (q: Queryable): Promise<Revision> => {
      let rows;
      try {
        rows = (await q.query(text, params, named ? this.statementName(text) : undefined)).rows;
      } catch (e) {
        if (isUniqueViolation(e)) throw this.conflict(stream, expected, await this.headOf(stream));
        throw e;
      }
      if (rows.length === 0) throw this.conflict(stream, expected, await this.headOf(stream));
      return Number(rows[0]!.head);
    };
    if (!snapshot) return run(this.db);
    return this.db.transaction(async (tx) => {
      const head = await run(tx);
      await this.upsertSnapshot(tx, stream, "latest", snapshot, false);
      return head;
    });
  }

  /**
   * After a lost connection: our head if the events we sent are stored at the revisions we asked
   * for, undefined when nothing was written (safe to re-send), CKPT_CONFLICT when someone else
   * wrote there.
   */
  private async committed(
    stream: string,
    datas: string[],
    expected: ExpectedRevision,
  ): Promise<Revision | undefined> {
    const head = await this.headOf(stream);
    if (expected === "any") {
      // No position was promised, so only "nothing changed" is certain; anything else cannot be
      // told apart.
      throw new CkptError(
        ErrorCode.UNAVAILABLE,
        `PostgreSQL at ${this.location} dropped the connection during an append to "${stream}" with expectedRevision "any"; whether it was stored is unknown. Read the stage and retry.`,
      );
    }
    const base = expected === "no_stream" ? -1 : expected;
    if (expected === "no_stream" ? head === undefined : head === expected) return undefined;
    const rows = await this.db.rows(
      `select data from ${this.S}.events where stage = $1 and revision > $2 and revision <= $3 order by revision`,
      [stream, base, base + datas.length],
    );
    if (rows.length === datas.length && rows.every((r, i) => r.data === datas[i])) {
      return base + datas.length;
    }
    throw this.conflict(stream, expected, head);
  }

  /**
   * A prepared statement's name, one per text (a name must never stand for two texts: behind a
   * pooler a Bind may reach a connection where another log prepared it): `ckpt_` and 160 bits of
   * the text's SHA-256, which names the schema too. Under the server's 63-byte limit.
   */
  private statementName(text: string): string {
    let name = this.statementNames.get(text);
    if (name === undefined) {
      name = `ckpt_${createHash("sha256").update(text).digest("hex").slice(0, 40)}`;
      this.statementNames.set(text, name);
    }
    return name;
  }

  private async headOf(stream: string): Promise<Revision | undefined> {
    const rows = await this.db.rows(`select head from ${this.S}.streams where stage = $1`, [
      stream,
    ]);
    return rows[0] ? Number(rows[0].head) : undefined;
  }

  private check(stream: string, expected: ExpectedRevision, head: Revision | undefined): void {
    if (expected === "any" || (expected === "no_stream" ? head === undefined : head === expected)) {
      return;
    }
    throw this.conflict(stream, expected, head);
  }

  private conflict(
    stream: string,
    expected: ExpectedRevision,
    head: Revision | undefined,
  ): CkptError {
    return new CkptError(
      ErrorCode.CONFLICT,
      `Stream "${stream}" in ${this.location} is at ${
        head === undefined ? "no stream" : `revision ${head}`
      }, but the writer expected ${
        expected === "no_stream" ? "no stream" : `revision ${expected}`
      }. Another writer got there first; reload and retry.`,
      { details: { stream, expected, actual: head ?? "no_stream" } },
    );
  }

  async *read(stream: string, options: ReadOptions = {}): AsyncGenerator<RecordedEvent> {
    if (options.from !== undefined && !(Number.isSafeInteger(options.from) && options.from >= 0)) {
      throw new CkptError(
        ErrorCode.INVALID,
        `Cannot read "${stream}" from ${options.from}: revisions are whole numbers from 0.`,
      );
    }
    let left = options.limit ?? Infinity;
    if (left <= 0) return;
    if (options.direction !== "backward") {
      for await (const page of this.readBatches(stream, { from: options.from ?? 0 })) {
        for (const e of page) {
          yield e;
          if (--left <= 0) return;
        }
      }
      return;
    }
    let from = options.from ?? Number.MAX_SAFE_INTEGER;
    while (left > 0) {
      const n = Math.min(PAGE, left);
      const rows = await this.retrying(
        `read of "${stream}"`,
        () =>
          this.db.rows(
            `select revision, data from ${this.S}.events where stage = $1 and revision <= $2 order by revision desc limit $3`,
            [stream, from, n],
          ),
      );
      for (const r of rows) {
        yield { revision: Number(r.revision), event: this.decode(stream, r.data as string) };
      }
      left -= rows.length;
      if (rows.length < n) return;
      from = Number(rows[rows.length - 1]!.revision) - 1;
    }
  }

  /**
   * Forward pages of plain rows (array mode: no per-row object), keyset-paged on (stage, revision).
   */
  async *readBatches(
    stream: string,
    options: { from?: Revision } = {},
  ): AsyncGenerator<RecordedEvent[]> {
    let from = options.from ?? 0;
    const text =
      `select revision, data from ${this.S}.events where stage = $1 and revision >= $2 order by revision limit ${PAGE}`;
    for (;;) {
      const { rows } = await this.retrying(
        `read of "${stream}"`,
        () => this.pool.query<[string, string]>({ text, values: [stream, from], rowMode: "array" }),
      );
      if (rows.length === 0) return;
      const page: RecordedEvent[] = new Array(rows.length);
      for (let i = 0; i < rows.length; i++) {
        page[i] = { revision: Number(rows[i]![0]), event: this.decode(stream, rows[i]![1]) };
      }
      yield page;
      if (rows.length < PAGE) return;
      from = page[page.length - 1]!.revision + 1;
    }
  }

  private decode(stream: string, data: string): CkptEvent {
    try {
      return JSON.parse(data) as CkptEvent;
    } catch (e) {
      throw new CkptError(
        ErrorCode.CORRUPT,
        `Stream "${stream}" in ${this.location} holds an event that is not JSON.`,
        { cause: e },
      );
    }
  }

  async streams(options: { prefix?: string } = {}): Promise<StreamInfo[]> {
    const rows = await this.retrying(
      "listing stages",
      () =>
        this.db.rows(
          `select stage, head, first, updated_at from ${this.S}.streams where starts_with(stage, $1) order by stage collate "C"`,
          [options.prefix ?? ""],
        ),
    );
    return rows.map((r) => infoOf(r));
  }

  async info(stream: string): Promise<StreamInfo | undefined> {
    const rows = await this.retrying(
      `info of "${stream}"`,
      () =>
        this.db.rows(
          `select stage, head, first, updated_at from ${this.S}.streams where stage = $1`,
          [stream],
        ),
    );
    return rows[0] ? infoOf(rows[0]) : undefined;
  }

  async saveSnapshot(stream: string, snapshot: Snapshot): Promise<void> {
    await this.retrying(
      `snapshot of "${stream}"`,
      () => this.upsertSnapshot(this.db, stream, "latest", snapshot, true),
    );
  }

  /** Keeps the newer snapshot; `onlyIfCovered` refuses one that runs ahead of the stream's head. */
  private async upsertSnapshot(
    q: Queryable,
    stream: string,
    kind: "latest" | "base",
    s: Snapshot,
    onlyIfCovered: boolean,
  ): Promise<void> {
    const S = this.S;
    await q.query(
      `insert into ${S}.snapshots as o (stage, kind, revision, version, state)
       select $1, $2, $3, $4, $5 ${
        onlyIfCovered
          ? `where exists (select 1 from ${S}.streams where stage = $1 and head >= $3)`
          : ""
      }
       on conflict (stage, kind) do update set revision = excluded.revision, version = excluded.version, state = excluded.state
       where ${kind === "base" ? "true" : "o.revision <= excluded.revision"}`,
      [stream, kind, s.revision, s.version, JSON.stringify(s.state)],
    );
  }

  async loadSnapshot(
    stream: string,
    which: "latest" | "base" = "latest",
  ): Promise<Snapshot | undefined> {
    const rows = await this.retrying(
      `snapshot of "${stream}"`,
      () =>
        this.db.rows(
          `select revision, version, state from ${this.S}.snapshots where stage = $1 and kind = $2`,
          [stream, which],
        ),
    );
    const r = rows[0];
    if (!r) return undefined;
    try {
      return {
        revision: Number(r.revision),
        version: Number(r.version),
        state: JSON.parse(r.state as string),
      };
    } catch (e) {
      throw new CkptError(
        ErrorCode.CORRUPT,
        `The ${which} snapshot of "${stream}" in ${this.location} is not JSON; run \`ckpt verify ${stream}\`.`,
        { cause: e },
      );
    }
  }

  /**
   * RETENTION (one transaction): base snapshot, latest when older, events before `revision`
   * removed, `first` moved. The stream's head row is locked first, so appends to this stage wait
   * for it and never interleave, and the expected revision is checked against that locked head: a
   * compaction never acts on a stale read.
   */
  async truncateBefore(
    stream: string,
    revision: Revision,
    base: Snapshot,
    o: MaintenanceOptions = {},
  ): Promise<void> {
    const S = this.S;
    await this.retrying(`truncation of "${stream}"`, () =>
      this.db.transaction(async (tx) => {
        const { rows } = await tx.query(
          `select head, first from ${S}.streams where stage = $1 for update`,
          [stream],
        );
        const row = rows[0];
        checkExpected(
          stream,
          o.expectedRevision ?? "any",
          row ? Number(row.head) : undefined,
          this.location,
        );
        if (!row || revision <= Number(row.first)) return;
        const to = Math.min(revision, Number(row.head) + 1);
        await this.upsertSnapshot(tx, stream, "base", base, false);
        await this.upsertSnapshot(tx, stream, "latest", base, false);
        await tx.query(`delete from ${S}.events where stage = $1 and revision < $2`, [stream, to]);
        await tx.query(`update ${S}.streams set first = $2 where stage = $1`, [stream, to]);
      }));
  }

  /**
   * RETENTION (one transaction): the stream's events, snapshots and head row go together; the next
   * append starts at no_stream. The head row is locked and checked against the expected revision
   * first, as for truncation.
   */
  async delete(stream: string, o: MaintenanceOptions = {}): Promise<void> {
    const S = this.S;
    await this.retrying(`deletion of "${stream}"`, () =>
      this.db.transaction(async (tx) => {
        const { rows } = await tx.query(
          `select head from ${S}.streams where stage = $1 for update`,
          [stream],
        );
        checkExpected(
          stream,
          o.expectedRevision ?? "any",
          rows[0] ? Number(rows[0].head) : undefined,
          this.location,
        );
        await tx.query(`delete from ${S}.streams where stage = $1`, [stream]);
        await tx.query(`delete from ${S}.events where stage = $1`, [stream]);
        await tx.query(`delete from ${S}.snapshots where stage = $1`, [stream]);
      }));
  }

  async sizeBytes(): Promise<number> {
    const rows = await this.retrying("size", () =>
      this.db.rows(
        `select coalesce(sum(pg_total_relation_size(c.oid)), 0)::float8 as bytes from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = $1 and c.relkind = 'r'`,
        [this.schema],
      ));
    return Number(rows[0]?.bytes ?? 0);
  }

  /**
   * Calls `onChange` whenever another connection commits events to `stream` (and once after every
   * reconnect, since notifications sent while disconnected are lost). Resolves with the
   * unsubscribe.
   */
  async listen(stream: string, onChange: () => void): Promise<() => Promise<void>> {
    this.assertOpen();
    let set = this.listeners.get(stream);
    if (!set) this.listeners.set(stream, set = new Set());
    set.add(onChange);
    this.listening ??= this.connectListener();
    try {
      await this.listening;
    } catch (e) {
      this.listening = undefined;
      set.delete(onChange);
      throw this.error(e, "LISTEN");
    }
    return async () => {
      set.delete(onChange);
    };
  }

  /**
   * One connection of its own LISTENs for the whole log. When it drops, it reconnects with backoff
   * and then wakes every watcher, since notifications sent while it was away are lost.
   */
  private async connectListener(): Promise<void> {
    const client = new pg.Client(this.config);
    client.on("error", () => undefined);
    client.on("notification", (m) => {
      if (m.payload) this.listeners.get(m.payload)?.forEach((f) => f());
    });
    await client.connect();
    try {
      await client.query(`listen "${channelOf(this.schema)}"`);
    } catch (e) {
      await client.end().catch(() => undefined);
      throw e;
    }
    if (this.closed) return void (await client.end().catch(() => undefined));
    this.listenClient = client;
    client.on("end", () => {
      if (this.listenClient === client) this.listenClient = undefined;
      void this.reconnectListener();
    });
    this.listeners.forEach((fs) => fs.forEach((f) => f()));
  }

  private async reconnectListener(): Promise<void> {
    await sleep(backoffDelay(0));
    // Until it is back, or the log closes (the server is away: try again).
    await retry(
      async () => {
        if (this.closed) return;
        this.listening = this.connectListener();
        await this.listening;
      },
      { retryable: () => !this.closed },
    ).catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    await this.listenClient?.end().catch(() => undefined);
    await this.pool.end();
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new CkptError(ErrorCode.CLOSED, `The PostgreSQL log at ${this.location} is closed.`);
    }
  }

  private error(e: unknown, what: string): CkptError {
    return toCkptError(e, this.location, this.secrets, what);
  }
}

function infoOf(r: Record<string, unknown>): StreamInfo {
  return {
    stream: String(r.stage),
    head: Number(r.head),
    first: Number(r.first),
    updatedAt: Number(r.updated_at),
  };
}
