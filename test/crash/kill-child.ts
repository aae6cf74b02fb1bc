/**
 * Runs a test's child script (under tsx on Node, `deno run` on Deno) and SIGKILLs it `killAfterMs`
 * after it first prints "ready"; resolves when it is gone with what it printed and how it ended.
 * The crash tests read their acknowledgements from `lines`.
 */
import { spawn } from "node:child_process";
import process from "node:process";

export interface ChildEnd {
  /** Whole lines printed (a line cut by the kill is not an acknowledgement, so it is dropped). */
  lines: string[];
  out: string;
  err: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export function runUntilKilled(
  script: string,
  args: string[],
  killAfterMs: number,
): Promise<ChildEnd> {
  const cmd = "Deno" in globalThis
    ? [process.execPath, "run", "-A", script]
    : [process.execPath, "--import", "tsx", script];
  return new Promise((resolve, reject) => {
    const p = spawn(cmd[0]!, [...cmd.slice(1), ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let timer: ReturnType<typeof setTimeout> | undefined;
    p.stdout.on("data", (d) => {
      out += d;
      if (timer === undefined && out.includes("ready")) {
        timer = setTimeout(() => p.kill("SIGKILL"), killAfterMs);
      }
    });
    p.stderr.on("data", (d) => (err += d));
    p.on("error", reject);
    p.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      const lines = out.split("\n");
      lines.pop();
      resolve({ lines, out, err, code, signal });
    });
  });
}
