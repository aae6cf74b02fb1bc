/**
 * Runs a bench file in a fresh process of the same runtime (Node via tsx, or Deno), so memory and
 * CPU readings are its own.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { runtime } from "./env.ts";

export const repoRoot = new URL("..", import.meta.url).pathname;

export interface ChildOptions {
  /** Lets the child call gc() so memory readings start level. */
  exposeGc?: boolean;
  /** Raises V8's old-space limit (the memory log holds every event of a 10^7 loop). */
  heapMiB?: number;
}

/** The command line that runs `file` (relative to the repo root) on this runtime. */
export function commandFor(
  file: string,
  args: string[],
  options: ChildOptions = {},
): [string, string[]] {
  const path = join(repoRoot, file);
  const v8 = [
    ...(options.exposeGc ? ["--expose-gc"] : []),
    ...(options.heapMiB ? [`--max-old-space-size=${options.heapMiB}`] : []),
  ];
  if (runtime === "deno") {
    const deno = (globalThis as { Deno?: { execPath(): string } }).Deno!.execPath();
    return [deno, [
      "run",
      "-A",
      "--quiet",
      ...(v8.length ? [`--v8-flags=${v8.join(",")}`] : []),
      path,
      ...args,
    ]];
  }
  return [process.execPath, [...v8, "--import", "tsx", path, ...args]];
}

/** Runs `file` to completion and parses the last line it prints on stdout as JSON. */
export function runJson<T>(file: string, args: string[], options: ChildOptions = {}): Promise<T> {
  const [cmd, argv] = commandFor(file, args, options);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => {
      const last = out.trim().split("\n").pop() ?? "";
      try {
        if (code !== 0) throw new Error(`exit ${code}`);
        resolve(JSON.parse(last) as T);
      } catch (e) {
        reject(
          new Error(
            `${file} ${args.join(" ")} failed (${(e as Error).message}): ${
              err.trim().slice(-2000)
            }`,
          ),
        );
      }
    });
  });
}
