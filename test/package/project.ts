/**
 * The package test's consumer project: packs ckpt (prepack builds dist/), installs the tarball into
 * a fresh folder under the OS temp dir (outside the repo, so nothing resolves to the repo's
 * node_modules), and runs commands there with a clean environment.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

export const ROOT = new URL("../..", import.meta.url).pathname;
const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;

export interface Done {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment a user's shell would have: no CKPT_* from the test run, no colours. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("CKPT_") && !k.startsWith("npm_")),
  );
  return { ...env, NO_COLOR: "1", FORCE_COLOR: "0", ...extra };
}

export function exec(
  cmd: string,
  args: readonly string[],
  o: { cwd: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<Done> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: o.cwd, env: cleanEnv(o.env) });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), o.timeoutMs ?? 120_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end();
  });
}

/** Like exec, but a non-zero exit is an error that carries the output. */
export async function must(
  cmd: string,
  args: readonly string[],
  o: { cwd: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<Done> {
  const r = await exec(cmd, args, o);
  if (r.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")} exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`,
    );
  }
  return r;
}

export interface Project {
  dir: string;
  tarball: string;
  /** Every path in the tarball, `package/` prefix removed. */
  files: string[];
  remove(): Promise<void>;
}

/**
 * npm pack (which runs prepack → the build), then npm install of the tarball and the consumer's own
 * dev tools.
 */
export async function installedProject(): Promise<Project> {
  const dir = await mkdtemp(join(tmpdir(), "ckpt-consumer-"));
  const packDir = join(dir, "pack");
  await mkdir(packDir);
  const pack = await must("npm", ["pack", "--json", "--pack-destination", packDir], {
    cwd: ROOT,
    timeoutMs: 180_000,
  }).catch(async (err) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  const info = (JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[])[0]!;
  const tarball = join(packDir, info.filename);
  const app = join(dir, "app");
  await cp(FIXTURES, app, { recursive: true });
  await writeFile(
    join(app, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module" }),
  );
  // The peers a user adds for ckpt/eventstoredb, ckpt/postgres and ckpt/testing, and @types/node
  // for the tsc consumer; --prefer-offline: after `npm ci` all of them are in npm's cache.
  const devTools = ["@eventstore/db-client", "pg", "uvu", "@types/node"].map((name) =>
    `${name}@${lockedVersion(name)}`
  );
  await must("npm", [
    "install",
    "--prefer-offline",
    "--no-audit",
    "--no-fund",
    tarball,
    ...devTools,
  ], { cwd: app, timeoutMs: 180_000 });
  return {
    dir: app,
    tarball,
    files: info.files.map((f) => f.path),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The version this repo's lockfile installs, so the consumer gets the same (cached) one. */
function lockedVersion(name: string): string {
  const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
    packages: Record<string, { version: string }>;
  };
  return lock.packages[`node_modules/${name}`]!.version;
}
