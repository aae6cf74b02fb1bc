/**
 * A throwaway PostgreSQL for tests and the bench: `initdb` into a temp folder (as the `postgres`
 * user when running as root), `pg_ctl start` on a free loopback port with a private socket folder
 * and fsync on, password auth over TCP (so redaction is tested against a real password); stopped
 * and removed at the end, also when the process exits early. `CKPT_TEST_POSTGRES_URL` points tests
 * at an existing server instead.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, realpathSync } from "node:fs";
import { chown, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import pg from "pg";

export interface PgServer {
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres */
  url: string;
  password: string;
  port: number;
  /**
   * False for a server named by CKPT_TEST_POSTGRES_URL (it cannot be stopped or restarted from
   * here).
   */
  owned: boolean;
  /** Immediate shutdown (like a crash), then start again on the same port and data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and removes its folder (nothing for an external server). */
  close(): Promise<void>;
}

/**
 * Where initdb/pg_ctl live: the PATH first, then the newest /usr/lib/postgresql/<v>/bin; undefined
 * when absent.
 */
export function findPgBin(): string | undefined {
  const which = spawnSync("sh", ["-c", "command -v initdb"], { encoding: "utf8" });
  const onPath = which.status === 0 ? which.stdout.trim() : "";
  if (onPath) {
    // /usr/local/bin/initdb is often a symlink into /usr/lib/postgresql/<v>/bin, where pg_ctl and
    // postgres live.
    const real = realpathSync(onPath);
    const dir = real.slice(0, real.lastIndexOf("/"));
    if (existsSync(join(dir, "pg_ctl"))) return dir;
  }
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "initdb"))).sort(
    (a, b) => Number(b) - Number(a),
  );
  return versions[0] === undefined ? undefined : join(root, versions[0], "bin");
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

/**
 * Runs a PostgreSQL binary, as the `postgres` user when we are root (the server refuses to run as
 * root).
 */
function pgRun(bin: string, args: string[]): { status: number | null; output: string } {
  const cmd = isRoot ? ["runuser", "-u", "postgres", "--", bin, ...args] : [bin, ...args];
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: "utf8" });
  return {
    status: r.status,
    output: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? String(r.error) : ""}`,
  };
}

/**
 * `pgRun` without blocking the event loop, so clients in this process keep running (and failing)
 * while the server stops or starts.
 */
function pgAsync(bin: string, args: string[]): Promise<{ status: number | null; output: string }> {
  const cmd = isRoot ? ["runuser", "-u", "postgres", "--", bin, ...args] : [bin, ...args];
  return new Promise((resolve) => {
    const p = spawn(cmd[0]!, cmd.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    p.stdout.on("data", (d) => (output += d));
    p.stderr.on("data", (d) => (output += d));
    p.on("error", (e) => resolve({ status: -1, output: output + String(e) }));
    p.on("close", (status) => resolve({ status, output }));
  });
}

function userIds(): { uid: number; gid: number } {
  const uid = Number(spawnSync("id", ["-u", "postgres"], { encoding: "utf8" }).stdout.trim());
  const gid = Number(spawnSync("id", ["-g", "postgres"], { encoding: "utf8" }).stdout.trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) {
    throw new Error("running as root but there is no `postgres` user to run the server as");
  }
  return { uid, gid };
}

/** Starts a fresh server. Throws (never skips) when PostgreSQL is not installed. */
export async function startPostgres(): Promise<PgServer> {
  const bin = findPgBin();
  if (!bin) {
    throw new Error(
      "PostgreSQL is not installed (no initdb on PATH or under /usr/lib/postgresql/*/bin): apt-get install -y postgresql, or set CKPT_TEST_POSTGRES_URL",
    );
  }
  const dir = await mkdtemp(join(tmpdir(), "ckpt-pg-"));
  const data = join(dir, "data");
  const sockets = join(dir, "sock");
  const password = `pw-${crypto.randomUUID()}`;
  const pwfile = join(dir, "pw");
  await writeFile(pwfile, password + "\n");
  spawnSync("mkdir", ["-p", sockets]);
  if (isRoot) {
    const { uid, gid } = userIds();
    for (const p of [dir, sockets, pwfile]) await chown(p, uid, gid);
  }
  const init = pgRun(join(bin, "initdb"), [
    "-D",
    data,
    "-U",
    "postgres",
    "-E",
    "UTF8",
    "--locale=C",
    "--auth-local=trust",
    "--auth-host=scram-sha-256",
    `--pwfile=${pwfile}`,
    "--no-sync",
  ]);
  if (init.status !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`initdb failed:\n${init.output}`);
  }
  let port = 0;
  let running = false;
  const start = async () => {
    for (let attempt = 0;; attempt++) {
      if (port === 0 || attempt > 0) port = await freePort();
      const opts =
        `-p ${port} -k ${sockets} -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200 -c shared_buffers=64MB`;
      const r = pgRun(join(bin, "pg_ctl"), [
        "-D",
        data,
        "-l",
        join(dir, "log"),
        "-w",
        "-t",
        "60",
        "-o",
        opts,
        "start",
      ]);
      if (r.status === 0) break;
      if (attempt >= 2) throw new Error(`pg_ctl start failed:\n${r.output}`);
    }
    running = true;
  };
  const stop = async () => {
    if (!running) return;
    await pgAsync(join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]);
    running = false;
  };
  const onExit = () => {
    if (running) pgRun(join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]);
    spawnSync("rm", ["-rf", dir]);
  };
  process.on("exit", onExit);
  try {
    await start();
  } catch (e) {
    onExit();
    process.off("exit", onExit);
    throw e;
  }
  const server: PgServer = {
    get url() {
      return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
    },
    password,
    get port() {
      return port;
    },
    owned: true,
    start: async () => {
      if (running) return;
      // Same port on restart: clients reconnect to the address they were given.
      const opts =
        `-p ${port} -k ${sockets} -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200 -c shared_buffers=64MB`;
      const r = await pgAsync(join(bin, "pg_ctl"), [
        "-D",
        data,
        "-l",
        join(dir, "log"),
        "-w",
        "-t",
        "60",
        "-o",
        opts,
        "start",
      ]);
      if (r.status !== 0) throw new Error(`pg_ctl start failed:\n${r.output}`);
      running = true;
    },
    stop,
    restart: async () => {
      await stop();
      await server.start();
    },
    close: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
      process.off("exit", onExit);
    },
  };
  return server;
}

/** The server a test file shares: CKPT_TEST_POSTGRES_URL when set, else a fresh throwaway one. */
export async function testPostgres(): Promise<PgServer> {
  const external = process.env.CKPT_TEST_POSTGRES_URL;
  if (!external) return startPostgres();
  const unsupported = () =>
    Promise.reject(
      new Error("CKPT_TEST_POSTGRES_URL names a server this test cannot stop or restart"),
    );
  return {
    url: external,
    password: decodeURIComponent(new URL(external).password),
    port: Number(new URL(external).port || 5432),
    owned: false,
    restart: unsupported,
    stop: unsupported,
    start: unsupported,
    close: async () => undefined,
  };
}

/**
 * A schema name no other test uses, so files and tests sharing one server never see each other's
 * data.
 */
export const uniqueSchema = (tag = "t"): string =>
  `ckpt_${tag}_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;

/**
 * An admin connection pool for assertions in SQL: `rows(text, params)`, a transaction, and `end()`.
 */
export interface Admin {
  rows(text: string, params?: unknown[]): Promise<Record<string, any>[]>;
  query(text: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  transaction<T>(
    fn: (
      tx: { query(text: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }> },
    ) => Promise<T>,
  ): Promise<T>;
  end(): Promise<void>;
}

export function adminPool(url: string): Admin {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on("error", () => undefined);
  return {
    rows: async (text, params) => (await pool.query(text, params)).rows,
    query: (text, params) => pool.query(text, params),
    transaction: async (fn) => {
      const c = await pool.connect();
      const onError = () => undefined;
      c.on("error", onError);
      try {
        await c.query("begin");
        const out = await fn(c);
        await c.query("commit");
        return out;
      } catch (e) {
        await c.query("rollback").catch(() => undefined);
        throw e;
      } finally {
        c.off("error", onError);
        c.release();
      }
    },
    end: () => pool.end(),
  };
}
