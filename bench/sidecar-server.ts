/**
 * Starts a real ckpt-server (server/node.ts) in its own process on 127.0.0.1 and a free port, and
 * stops it with SIGTERM.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { commandFor, repoRoot } from "./child.ts";
import { highWaterMark } from "./peak.ts";
import { removeDir, tempDir } from "./tmp.ts";

export interface SidecarProcess {
  url: string;
  pid: number | undefined;
  /** The server process's peak RSS so far (bytes), where /proc tells. */
  peakRss(): number | undefined;
  stop(): Promise<void>;
}

/**
 * `root`: another checkout's sidecar (bench/sidecar-single.ts compares against a baseline); `flags`
 * go to its runtime (e.g. --cpu-prof); `store`: LevelDB (default) or a segment log.
 */
export function startSidecar(
  durability: "sync" | "os",
  o: { root?: string; flags?: string[]; store?: "level" | "segments" } = {},
): Promise<SidecarProcess> {
  const dir = tempDir("sidecar");
  const root = o.root ?? repoRoot;
  const [cmd, args] = commandFor("server/node.ts", [
    "--store",
    o.store === "segments" ? `segments:${dir}` : dir,
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--durability",
    durability,
  ]);
  const file = args.findIndex((a) => a.endsWith("server/node.ts"));
  args[file] = join(root, "server/node.ts");
  args.splice(file, 0, ...(o.flags ?? []));
  const child = spawn(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null) child.kill("SIGTERM");
    await exited;
    removeDir(dir);
  };
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(
      () => fail(new Error("ckpt-server did not report listening within 30 s")),
      30_000,
    );
    const fail = (e: Error) => {
      clearTimeout(timer);
      void stop().finally(() =>
        reject(new Error(`${e.message}: ${(out + err).trim().slice(-1500)}`))
      );
    };
    child.stderr.on("data", (d) => (err += d));
    child.stdout.on("data", (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1]!,
          pid: child.pid,
          stop,
          peakRss: () => (child.pid === undefined || child.exitCode !== null
            ? undefined
            : highWaterMark(child.pid)),
        });
      }
    });
    child.once(
      "exit",
      (code) => fail(new Error(`ckpt-server exited with ${code} before listening`)),
    );
  });
}

/**
 * A plain server child (bench/sidecar-single.ts's floor, bench/embedded-http.ts's server): ready once it prints its URL or
 * `{"port":N}`.
 */
export function startPlainServer(
  label: string,
  args: string[],
  cleanup = () => {},
): Promise<SidecarProcess> {
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)|"port":(\d+)/.exec(out);
      if (m) {
        resolve({
          url: m[1] ?? `http://127.0.0.1:${m[2]}`,
          pid: child.pid,
          peakRss: () => undefined,
          stop: async () => {
            child.kill("SIGTERM");
            await exited;
            cleanup();
          },
        });
      }
    });
    child.once("exit", (code) => reject(new Error(`the ${label} server exited with ${code}`)));
  });
}
