/**
 * The bench-only dependencies (better-sqlite3, autocannon): kept in bench/node_modules, installed
 * on first use from bench/package-lock.json.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import process from "node:process";

export const benchDir = new URL(".", import.meta.url).pathname;
const modules = join(benchDir, "node_modules");
const require = createRequire(join(benchDir, "package.json"));

/**
 * Installs bench/node_modules when a dependency is missing. Returns why baselines cannot run, or
 * undefined.
 */
export function ensureDeps(): string | undefined {
  // The compiled addon, not just the package: an install whose build step was skipped leaves no
  // binary.
  const missing = () =>
    !existsSync(join(modules, "better-sqlite3/build/Release/better_sqlite3.node")) ||
    !existsSync(join(modules, "autocannon/package.json"));
  if (!missing()) return undefined;
  const locked = existsSync(join(benchDir, "package-lock.json"));
  const args = [locked ? "ci" : "i", "--prefix", benchDir, "--no-audit", "--no-fund"];
  // better-sqlite3 compiles from source here (about a minute), once.
  process.stderr.write(`bench: installing bench-only dependencies: npm ${args.join(" ")}\n`);
  // npm's output goes to stderr: stdout carries only the table.
  const r = spawnSync("npm", args, { stdio: ["ignore", 2, 2] });
  if (r.status !== 0 || missing()) return `npm ${args[0]} --prefix bench failed (exit ${r.status})`;
  return undefined;
}

/** Loads a bench dependency by name from bench/node_modules (CommonJS, typed by the caller). */
export function loadDep<T>(name: string): T {
  return require(name) as T;
}
