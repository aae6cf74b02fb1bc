/**
 * CLI test helpers: a captured Io for calling commands as pure functions, a populated store, and
 * the real binary.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { openOutput } from "../../cli/files.ts";
import { type Io, runCli } from "../../cli/run.ts";
import type { Store } from "../../core/store.ts";
import type { Clock } from "../../core/clock.ts";
import { open } from "../../mod.ts";
import { readFile } from "node:fs/promises";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const isDeno = "Deno" in globalThis;

export interface Captured {
  io: Io;
  out(): string;
  err(): string;
  /** Simulates Ctrl+C. */
  abort(): void;
  /** Questions the CLI asked. */
  asked: string[];
}

export interface FakeOptions {
  tty?: boolean | { stdin?: boolean; stdout?: boolean; stderr?: boolean };
  env?: Record<string, string | undefined>;
  store?: Store;
  /**
   * Opens the resolved target instead of the real adapters (what was resolved, without a server).
   */
  open?: Io["open"];
  /** Answers to prompts, in order (null = end of input). */
  answers?: (string | null)[];
  now?: () => number;
  /**
   * Drives the waits between polls (and `now`, unless given): a test moves time instead of
   * sleeping.
   */
  clock?: Clock;
  columns?: number;
  stdin?: string;
}

export function fakeIo(o: FakeOptions = {}): Captured {
  let out = "";
  let err = "";
  const asked: string[] = [];
  const answers = [...(o.answers ?? [])];
  const controller = new AbortController();
  const t = typeof o.tty === "object"
    ? o.tty
    : { stdin: o.tty ?? false, stdout: o.tty ?? false, stderr: o.tty ?? false };
  const stdout = { write: (s: string) => void (out += s) };
  const io: Io = {
    stdout,
    stderr: { write: (s: string) => void (err += s) },
    isTTY: { stdin: t.stdin ?? false, stdout: t.stdout ?? false, stderr: t.stderr ?? false },
    columns: o.columns ?? 100,
    env: o.env ?? {},
    now: o.now ?? (o.clock ? () => o.clock!.now() : () => Date.now()),
    ...(o.clock ? { clock: o.clock } : {}),
    signal: controller.signal,
    prompt: async (q) => {
      asked.push(q);
      return answers.length ? answers.shift()! : null;
    },
    readText: async (p) => (p === "-" ? o.stdin ?? "" : readFile(p, "utf8")),
    openOutput: (p) => openOutput(p, stdout),
    serve: async () => 0,
    version: "0.0.0-test",
    ...(o.store ? { store: o.store } : {}),
    ...(o.open ? { open: o.open } : {}),
  };
  return { io, out: () => out, err: () => err, abort: () => controller.abort(), asked };
}

/** Runs a command line through `runCli` with a captured Io. */
export async function cli(
  argv: string[],
  o: FakeOptions = {},
): Promise<{ code: number; out: string; err: string }> {
  const c = fakeIo(o);
  const code = await runCli(argv, c.io);
  return { code, out: c.out(), err: c.err() };
}

export async function tempDir(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), "ckpt-cli-"));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/**
 * A store with three stages: `fetch` completed over two runs (100 items, 3 failed with "HTTP 500",
 * cost 0.01 each), `parse` left running (80/200, a unit, a retryable error), `load` failed ("disk
 * full").
 */
export async function populate(path: string): Promise<void> {
  const store = await open({ path });
  let run = await store.stage("fetch").begin({ total: 100, config: { a: 1 } });
  for (let i = 0; i < 60; i++) {
    await run.done(i, {
      item: `https://example.com/p/${i}`,
      cost: 0.01,
      ...(i % 20 === 7 ? { ok: false, error: "HTTP 500" } : {}),
    });
  }
  await run.pause("rate limited");
  await run.close();
  run = await store.stage("fetch").begin({ total: 100, config: { a: 1 } });
  for (let i = 60; i < 100; i++) run.mark(i, { item: `https://example.com/p/${i}`, cost: 0.01 });
  await run.flush();
  await run.complete({ pages: 100 });
  const parse = await store.stage("parse").begin({ total: 200 });
  for (let i = 0; i < 80; i++) parse.mark(i);
  await parse.flush();
  const unit = parse.unit("org/repo:pulls");
  await unit.page(1, { records: 30 });
  await unit.page(2, { records: 30 });
  await parse.error("timeout on page 3", { retryable: true });
  await parse.close();
  const load = await store.stage("load").begin({});
  await load.progress({ ok: 5 });
  await load.fail("disk full");
  await store.close();
}

/** The real `ckpt` on this runtime: Node through tsx, Deno through `deno run -A`. */
export function binCommand(entry = "cli/main.ts"): [string, string[]] {
  return isDeno
    ? [process.execPath, ["run", "-A", "--quiet", entry]]
    : [process.execPath, ["--import", "tsx", entry]];
}

export interface BinResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the binary to completion (with a timeout) and captures its output. */
export function runBin(
  args: string[],
  o: {
    env?: Record<string, string>;
    input?: string;
    cmd?: [string, string[]];
    timeoutMs?: number;
  } = {},
): Promise<BinResult> {
  const [cmd, pre] = o.cmd ?? binCommand();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...pre, ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "", FORCE_COLOR: "0", ...o.env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), o.timeoutMs ?? 30_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(o.input ?? "");
  });
}
