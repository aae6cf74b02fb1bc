/**
 * The PostgreSQL log's schema, created and upgraded by the adapter itself: numbered migrations,
 * each applied once, all under a transaction-scoped advisory lock so two processes starting at once
 * queue instead of racing (PostgreSQL DDL is transactional: a migration applies whole or not at
 * all).
 */
import { CkptError, ErrorCode } from "../../core/errors.ts";

/**
 * What migrations need from a connection (the adapter passes pg's clients; no driver is imported
 * here).
 */
export interface Queryable {
  /**
   * `name`: send it as that named prepared statement (parsed and planned once per connection).
   */
  query(
    text: string,
    params?: unknown[],
    name?: string,
  ): Promise<{ rows: Record<string, unknown>[] }>;
}

/** A pool that can lend one connection for a transaction. */
export interface Lender extends Queryable {
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
}

/**
 * Arbitrary, fixed: the first half of every ckpt advisory lock key (the second is the schema's
 * hash).
 */
const LOCK_CLASS = 0x636b70; // "ckp"

interface Migration {
  version: number;
  name: string;
  /** Statements with `$S` where the quoted schema goes. */
  up: readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "events, stream heads and snapshots",
    up: [
      // One row per event; (stage, revision) is the key that makes a second writer at the same
      // revision fail.
      `create table $S.events (
         stage text not null,
         revision bigint not null,
         data text not null,
         primary key (stage, revision)
       )`,
      // The head row is what an append's expected revision is checked against (and what streams()
      // lists).
      `create table $S.streams (
         stage text primary key,
         head bigint not null,
         first bigint not null default 0,
         updated_at bigint not null
       )`,
      `create table $S.snapshots (
         stage text not null,
         kind text not null check (kind in ('latest', 'base')),
         revision bigint not null,
         version integer not null,
         state text not null,
         primary key (stage, kind)
       )`,
    ],
  },
  {
    version: 2,
    name: "LISTEN/NOTIFY on append, index for idle-stage retention",
    up: [
      // One notification per appending statement and stage, sent at commit: watchers wake without
      // polling.
      `create function $S.ckpt_notify() returns trigger language plpgsql as $fn$
       begin
         perform pg_notify(tg_table_schema || '_ckpt', s.stage) from (select distinct stage from new_rows) s;
         return null;
       end $fn$`,
      `create trigger ckpt_notify after insert on $S.events referencing new table as new_rows
       for each statement execute function $S.ckpt_notify()`,
      `create index streams_updated_at on $S.streams (updated_at)`,
    ],
  },
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** The channel appends to `schema` notify on (see migration 2). */
export const channelOf = (schema: string): string => `${schema}_ckpt`;

const quoted = (schema: string): string => `"${schema}"`;

/** Schema names are interpolated into DDL, so they are held to plain identifiers. */
export function checkSchemaName(schema: string): void {
  if (!/^[a-z_][a-z0-9_]{0,49}$/.test(schema)) {
    throw new CkptError(
      ErrorCode.INVALID,
      `Invalid PostgreSQL schema name ${
        JSON.stringify(schema)
      }: use lower-case letters, digits and "_" (at most 50, not starting with a digit).`,
    );
  }
}

async function appliedVersion(db: Queryable, schema: string): Promise<number | undefined> {
  const { rows } = await db.query(
    `select to_regclass('${quoted(schema)}.migrations') is not null as has`,
  );
  if (!rows[0]?.has) return undefined;
  const v = await db.query(
    `select coalesce(max(version), 0)::int as v from ${quoted(schema)}.migrations`,
  );
  return Number(v.rows[0]?.v ?? 0);
}

/**
 * Brings `schema` up to `target` (default: the latest). Cheap when already there (one query, no
 * lock). Returns the version found before migrating.
 */
export async function migrate(
  db: Lender,
  schema: string,
  target = LATEST_VERSION,
): Promise<number> {
  checkSchemaName(schema);
  const seen = await appliedVersion(db, schema);
  if (seen !== undefined && seen >= target) return tooNew(seen, schema);
  return db.transaction(async (tx) => {
    await tx.query(`select pg_advisory_xact_lock(${LOCK_CLASS}, hashtext($1))`, [schema]);
    // Re-read under the lock: another process may have migrated while we waited.
    await tx.query(`create schema if not exists ${quoted(schema)}`);
    await tx.query(
      `create table if not exists ${
        quoted(schema)
      }.migrations (version integer primary key, name text not null, applied_at timestamptz not null default now())`,
    );
    const before = (await appliedVersion(tx, schema)) ?? 0;
    for (const m of MIGRATIONS) {
      if (m.version <= before || m.version > target) continue;
      for (const statement of m.up) await tx.query(statement.replaceAll("$S", quoted(schema)));
      await tx.query(
        `insert into ${quoted(schema)}.migrations (version, name) values (${m.version}, $1)`,
        [m.name],
      );
    }
    return before;
  });
}

function tooNew(seen: number, schema: string): number {
  if (seen > LATEST_VERSION) {
    throw new CkptError(
      ErrorCode.INVALID,
      `PostgreSQL schema "${schema}" is at version ${seen}, newer than this ckpt knows (${LATEST_VERSION}). Upgrade ckpt on this machine, or use another schema.`,
      { details: { schema, version: seen, known: LATEST_VERSION } },
    );
  }
  return seen;
}
