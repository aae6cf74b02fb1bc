/**
 * A child process that holds a store open (LevelDB's and the segment log's locks are per process):
 * runs `script` (a test/adapters/*-holder.ts) on `path` until it prints "held"; `kill()` SIGKILLs it
 * and waits for it to be gone.
 */
import { spawn } from "node:child_process";
import process from "node:process";

export async function holder(
  script: URL,
  path: string,
): Promise<{ kill(): Promise<void> }> {
  const file = script.pathname;
  const cmd = "Deno" in globalThis
    ? [process.execPath, "run", "-A", file, path]
    : [process.execPath, "--import", "tsx", file, path];
  const child = spawn(cmd[0]!, cmd.slice(1), {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (d) => String(d).includes("held") && resolve());
    child.on("error", reject);
    child.on("exit", (c) => reject(new Error(`holder exited ${c}`)));
  });
  return {
    kill: async () => {
      const gone = new Promise((r) => child.on("close", r));
      child.kill("SIGKILL");
      await gone;
    },
  };
}
