/**
 * Baseline B, hand-written SQLite: WAL, synchronous=FULL, one row per update, autocommitted or in
 * transactions of the group size.
 */
import { setImmediate } from "node:timers";
import { join } from "node:path";
import { loadDep } from "./deps.ts";
import { runtime } from "./env.ts";
import type { Subject } from "./subject.ts";
import { removeDir, tempDir } from "./tmp.ts";

/** Rows per transaction in the hand-batched hot loop: ckpt's own largest append (maxBatch). */
export const BATCHED_TX = 20_000;

interface Statement {
  run(...params: unknown[]): unknown;
}
/** The part both bindings share: better-sqlite3 (Node) and node:sqlite's DatabaseSync (Deno). */
interface Database {
  exec(source: string): unknown;
  prepare(source: string): Statement;
  close(): unknown;
}
type DatabaseClass = new (path: string) => Database;

export interface SqliteDb {
  /** Which binding runs the baseline. */
  binding: string;
  insert(index: number, at: number): void;
  /** Inserts every index in one transaction. */
  insertMany(indices: readonly number[], at: number): void;
  close(): void;
}

/**
 * better-sqlite3 on Node; on Deno, which cannot load its V8 (nan) addon, the built-in node:sqlite
 * (Node 20 has none). Same SQLite engine, same pragmas, both synchronous bindings.
 */
async function databaseClass(): Promise<[DatabaseClass, string]> {
  if (runtime === "deno") {
    const sqlite = "node:sqlite"; // a variable, so Node 20 never resolves it
    const { DatabaseSync } = (await import(sqlite)) as { DatabaseSync: DatabaseClass };
    return [DatabaseSync, "node:sqlite"];
  }
  return [loadDep<DatabaseClass>("better-sqlite3"), "better-sqlite3"];
}

/** A fresh database in a temp folder: one table of done items keyed by index. */
export async function openSqlite(): Promise<SqliteDb> {
  const [Db, binding] = await databaseClass();
  const dir = tempDir("sqlite");
  const db = new Db(join(dir, "ckpt.db"));
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = FULL");
  db.exec(
    "CREATE TABLE done (idx INTEGER PRIMARY KEY, outcome TEXT NOT NULL, at INTEGER NOT NULL)",
  );
  const stmt = db.prepare("INSERT OR REPLACE INTO done (idx, outcome, at) VALUES (?, 'ok', ?)");
  return {
    binding,
    insert: (index, at) => void stmt.run(index, at),
    insertMany(indices, at) {
      db.exec("BEGIN");
      try {
        for (const i of indices) stmt.run(i, at);
        db.exec("COMMIT");
      } catch (err) {
        db.exec("ROLLBACK");
        throw err;
      }
    },
    close() {
      db.close();
      removeDir(dir);
    },
  };
}

/** One autocommitted INSERT (one WAL fsync) per update. */
export async function sqliteAutocommitSubject(): Promise<Subject> {
  const db = await openSqlite();
  return {
    label: "B: SQLite FULL, autocommit",
    key: "baseline-sqlite-autocommit",
    update: (i) => db.insert(i, Date.now()),
    async close() {
      db.close();
    },
  };
}

/**
 * Updates queue until `group` (the number of workers) are waiting, then commit in one
 * transaction; a partial group goes out on the next turn of the event loop.
 */
export async function sqliteGroupSubject(): Promise<Subject> {
  const db = await openSqlite();
  let group = 1;
  let queue: number[] = [];
  let waiting: Array<() => void> = [];
  let scheduled = false;
  let commits = 0;
  let rows = 0;
  const commit = () => {
    scheduled = false;
    if (queue.length === 0) return;
    const q = queue;
    const w = waiting;
    queue = [];
    waiting = [];
    db.insertMany(q, Date.now());
    commits++;
    rows += q.length;
    for (const resolve of w) resolve();
  };
  return {
    label: "B: SQLite FULL, tx of group size",
    key: "baseline-sqlite-group",
    prepare(workers) {
      group = workers;
    },
    update(i) {
      return new Promise<void>((resolve) => {
        queue.push(i);
        waiting.push(resolve);
        if (queue.length >= group) commit();
        else if (!scheduled) {
          scheduled = true;
          setImmediate(commit);
        }
      });
    },
    groupSize() {
      const g = commits > 0 ? rows / commits : undefined;
      commits = rows = 0;
      return g;
    },
    async close() {
      db.close();
    },
  };
}
