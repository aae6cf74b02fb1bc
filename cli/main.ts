#!/usr/bin/env node
/**
 * The `ckpt` executable: the one file that touches argv, env, signals, stdin/stdout and exit.
 * Installed: `npx ckpt` runs the build of this file (dist/cli/main.js). In this repo: `node
 * cli/bin.mjs` (registers tsx first) or `deno task ckpt`.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import process from "node:process";
import { createInterface } from "node:readline";
import { CkptError, ErrorCode } from "../core/errors.ts";
import { onDeno } from "../runtime/platform.ts";
import { onSignals } from "../runtime/os-signals.ts";
import type { Out, ServeOptions } from "./context.ts";
import { openOutput, readText } from "./files.ts";
import type { Io } from "./run.ts";

const controller = new AbortController();
let interrupts = 0;
/**
 * While `ckpt serve` runs, the sidecar handles signals itself (its graceful stop must not be cut
 * short).
 */
let serving = false;
onSignals(["SIGINT", "SIGTERM"], () => {
  if (serving) return;
  // The first Ctrl+C lets the command stop cleanly (restore the cursor, close the store); a second
  // one does not wait.
  if (++interrupts > 1) process.exit(130);
  controller.abort();
});

const writer = (stream: NodeJS.WriteStream): Out => ({
  write: (
    text,
  ) => (stream.write(text)
    ? undefined
    : new Promise((resolve) => stream.once("drain", () => resolve()))),
});
// `ckpt replay x | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on(
  "error",
  (e: NodeJS.ErrnoException) => (e.code === "EPIPE" ? process.exit(0) : undefined),
);

const stdout = writer(process.stdout);
const io: Io = {
  stdout,
  stderr: writer(process.stderr),
  isTTY: {
    stdin: process.stdin.isTTY === true,
    stdout: process.stdout.isTTY === true,
    stderr: process.stderr.isTTY === true,
  },
  columns: process.stdout.columns || 80,
  env: process.env,
  now: () => Date.now(),
  signal: controller.signal,
  prompt: (question) =>
    new Promise((resolve) => {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      let answered = false;
      rl.on("SIGINT", () => rl.close());
      rl.on("close", () => answered || resolve(null));
      rl.question(question, (answer) => {
        answered = true;
        rl.close();
        resolve(answer);
      });
    }),
  readText: (path) => readText(path, readStdin),
  openOutput: (path) => openOutput(path, stdout),
  serve,
  openUrl,
  version: version(),
};

async function readStdin(): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk);
  }
  return new TextDecoder().decode(await new Blob(chunks as BlobPart[]).arrayBuffer());
}

/**
 * Runs the sidecar in this process: server/main.ts with the listener of this runtime (node.ts or
 * deno.ts).
 */
async function serve(argv: readonly string[], options: ServeOptions = {}): Promise<number> {
  let server: { main?: (argv: readonly string[], io: unknown) => Promise<number> };
  let runtime: { nodeIo?: unknown; denoIo?: unknown };
  try {
    // Computed specifiers: the sidecar (hono and friends) loads only for `ckpt serve`. Relative
    // templates, so the build's rewriteRelativeImportExtensions turns `.ts` into `.js` at run time
    // in dist/.
    const [mainFile, runtimeFile] = ["main.ts", onDeno ? "deno.ts" : "node.ts"];
    [server, runtime] = await Promise.all([
      import(`../server/${mainFile}`),
      import(`../server/${runtimeFile}`),
    ]);
  } catch (err) {
    throw new CkptError(
      ErrorCode.UNAVAILABLE,
      `The sidecar (server/) cannot be loaded: ${(err as Error)?.message ?? err}`,
      { cause: err },
    );
  }
  const serverIo = onDeno ? runtime.denoIo : runtime.nodeIo;
  if (typeof server.main !== "function" || !serverIo) {
    throw new CkptError(
      ErrorCode.UNAVAILABLE,
      "server/main.ts has no main(argv, io); this build cannot start the sidecar.",
    );
  }
  serving = true;
  const { onListening } = options;
  return server.main(
    argv,
    onListening
      ? { ...(serverIo as object), onListening: (l: { url: string }) => onListening(l.url) }
      : serverIo,
  );
}

/** The desktop's "open this URL" command; resolves false when it cannot be started. */
function openUrl(url: string): Promise<boolean> {
  const [cmd, args] = process.platform === "darwin"
    ? ["open", [url]]
    : process.platform === "win32"
    ? ["cmd", ["/c", "start", "", url]]
    : ["xdg-open", [url]];
  return new Promise((resolve) => {
    try {
      const child = spawn(cmd, args as string[], { stdio: "ignore", detached: true });
      child.once("error", () => resolve(false));
      child.once("spawn", () => {
        child.unref();
        resolve(true);
      });
    } catch {
      resolve(false);
    }
  });
}

/**
 * ckpt's package.json is one folder up from the sources (cli/main.ts) and two from the build
 * (dist/cli/main.js).
 */
function version(): string {
  for (const up of ["../package.json", "../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === "ckpt" && pkg.version) return pkg.version;
    } catch {
      // not this one
    }
  }
  return "0.0.0";
}

const argv = process.argv.slice(2);
// `ckpt --version` answers before the commands load (and with them LevelDB, zod, msgpackr): scripts
// and installers call it to see that ckpt is there, and it should cost about what a bare `node`
// does.
const code = argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v")
  ? (await stdout.write(`ckpt ${io.version}\n`), 0)
  : await (await import("./run.ts")).runCli(argv, io);
// Exit explicitly: an adapter's sockets or timers must not keep a finished command alive.
process.stdout.write("", () => process.exit(code));
