/**
 * A throwaway PgBouncer in transaction mode in front of a test PostgreSQL: the pooler the README
 * recommends for hundreds of workers, which (before 1.21) keeps no prepared statements across the
 * server connections it hands out. Throws (never skips) when PgBouncer is not installed.
 */
import { spawn, spawnSync } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, isRoot, type PgServer } from "./postgres-server.ts";

export interface Bouncer {
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres, through PgBouncer. */
  url: string;
  close(): Promise<void>;
}

function findPgBouncer(): string | undefined {
  const which = spawnSync("sh", ["-c", "command -v pgbouncer || ls /usr/sbin/pgbouncer"], {
    encoding: "utf8",
  });
  return which.status === 0 ? which.stdout.trim().split("\n")[0] : undefined;
}

/** `pgbouncer --version`'s numbers, e.g. [1, 18, 0]; [] when it does not say. */
function versionOf(bin: string): number[] {
  const out = spawnSync(bin, ["--version"], { encoding: "utf8" }).stdout ?? "";
  return (/PgBouncer (\d+(?:\.\d+)*)/i.exec(out)?.[1] ?? "").split(".").filter(Boolean).map(Number);
}

function atLeast(v: number[], min: number[]): boolean {
  for (let i = 0; i < min.length; i++) {
    if ((v[i] ?? 0) !== min[i]) return (v[i] ?? 0) > min[i]!;
  }
  return true;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

/** `poolSize` server connections shared by every client: fewer than clients, so they move. */
export async function startPgBouncer(pg: PgServer, poolSize = 2): Promise<Bouncer> {
  const bin = findPgBouncer();
  if (!bin) throw new Error("PgBouncer is not installed: apt-get install -y pgbouncer");
  const target = new URL(pg.url);
  const dir = await mkdtemp(join(tmpdir(), "ckpt-pgbouncer-"));
  // PgBouncer refuses to run as root: it runs as `postgres`, which must read and write here.
  await chmod(dir, 0o777);
  const port = await freePort();
  await writeFile(join(dir, "users.txt"), `"postgres" "${pg.password}"\n`);
  await writeFile(
    join(dir, "pgbouncer.ini"),
    [
      "[databases]",
      `postgres = host=${target.hostname} port=${target.port || 5432} dbname=postgres`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = plain",
      `auth_file = ${join(dir, "users.txt")}`,
      "pool_mode = transaction",
      `default_pool_size = ${poolSize}`,
      `logfile = ${join(dir, "pgbouncer.log")}`,
      // From 1.21 PgBouncer can keep prepared statements (on by default from 1.24): off, so every
      // version behaves like the ones that cannot.
      ...(atLeast(versionOf(bin), [1, 21]) ? ["max_prepared_statements = 0"] : []),
      // Startup parameters node-postgres sends that PgBouncer would otherwise refuse.
      "ignore_startup_parameters = extra_float_digits,application_name,statement_timeout",
      "",
    ].join("\n"),
  );
  const cmd = isRoot
    ? ["runuser", "-u", "postgres", "--", bin, join(dir, "pgbouncer.ini")]
    : [bin, join(dir, "pgbouncer.ini")];
  const child = spawn(cmd[0]!, cmd.slice(1), { stdio: "ignore" });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const close = async () => {
    if (child.exitCode === null) child.kill("SIGTERM");
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  for (let waited = 0; !(await accepts(port)); waited += 50) {
    if (child.exitCode !== null || waited > 10_000) {
      await close();
      throw new Error(`PgBouncer did not start listening on ${port}`);
    }
    await sleep(50);
  }
  return {
    url: `postgres://postgres:${encodeURIComponent(pg.password)}@127.0.0.1:${port}/postgres`,
    close,
  };
}
