/**
 * The CLI as a pure function: `runCli(argv, io)` parses, dispatches, prints errors and returns the
 * exit code. It never touches `process`; main.ts supplies `io` from the real process, tests from
 * buffers.
 */
import { type Clock, systemClock } from "../core/clock.ts";
import { isCkptError } from "../core/errors.ts";
import type { Store } from "../core/store.ts";
import { parseArgs, suggest } from "./args.ts";
import type { Command } from "./command.ts";
import { COMMANDS, findCommand } from "./commands/index.ts";
import type { Ctx, Out, OutputFile, ServeOptions, StoreOptions } from "./context.ts";
import { ExitCode, Interrupted, UsageError } from "./errors.ts";
import { commandHelp, rootHelp } from "./help.ts";
import { describeTarget, openTarget, resolveTarget, type Target } from "./target.ts";

/** What the outside world gives the CLI. */
export interface Io {
  stdout: Out;
  stderr: Out;
  isTTY: { stdin: boolean; stdout: boolean; stderr: boolean };
  columns: number;
  env: Readonly<Record<string, string | undefined>>;
  now(): number;
  /**
   * Timers for the waits between polls (`watch --interval`); default the system clock, tests drive
   * one.
   */
  clock?: Clock;
  /** Aborted on Ctrl+C. */
  signal: AbortSignal;
  prompt(question: string): Promise<string | null>;
  readText(path: string): Promise<string>;
  openOutput(path: string): Promise<OutputFile>;
  serve(argv: readonly string[], options?: ServeOptions): Promise<number>;
  /** Opens a URL in the browser (`ckpt dashboard --open`); absent: there is none to open. */
  openUrl?: (url: string) => Promise<boolean>;
  version: string;
  /** An already-open store to use instead of opening the target (tests); it is left open. */
  store?: Store;
  /** Opens a target; default: `openTarget`. */
  open?: (target: Target, options: StoreOptions) => Promise<Store>;
}

/**
 * Runs one command line (without the `ckpt` itself) and resolves with its exit code.
 * @example await runCli(["list", "--json"], io) // 0
 */
export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  let opened: Promise<Store> | undefined;
  let openedWith: StoreOptions = {};
  let command: Command | undefined;
  try {
    const [name, rest] = split(argv);
    if (name === undefined) {
      if (rest.includes("--version") || rest.includes("-v")) {
        await io.stdout.write(`ckpt ${io.version}\n`);
        return ExitCode.ok;
      }
      if (rest.includes("--help") || rest.includes("-h")) {
        await io.stdout.write(rootHelp(io.version));
        return ExitCode.ok;
      }
      if (rest.length) throw new UsageError(`unknown option ${rest[0]}; give a command first.`);
      await io.stderr.write(rootHelp(io.version));
      return ExitCode.usage;
    }
    if (name === "help") {
      const topic = rest[0];
      const c = topic === undefined ? undefined : findCommand(topic);
      if (topic !== undefined && !c) throw unknownCommand(topic);
      await io.stdout.write(c ? commandHelp(c) : rootHelp(io.version));
      return ExitCode.ok;
    }
    command = findCommand(name);
    if (!command) throw unknownCommand(name);
    const what = `ckpt ${command.name}`;
    const args = command.passthrough
      ? { positionals: [...rest], flags: {} }
      : parseArgs(rest, command.flags, command.positionals, what);
    if (args.flags.help) {
      await io.stdout.write(commandHelp(command));
      return ExitCode.ok;
    }
    // A passthrough command's --help is ours, then the program's own (run below with the same
    // argument).
    if (command.passthrough && (rest[0] === "--help" || rest[0] === "-h")) {
      await io.stdout.write(commandHelp(command) + "\n");
    }
    const target: Target | undefined = "store" in command.flags
      ? resolveTarget(args, io.env, what)
      : undefined;
    const color = io.isTTY.stdout && !io.env.NO_COLOR && io.env.TERM !== "dumb" &&
      !args.flags["no-color"];
    const ctx: Ctx = {
      store(options = {}) {
        if (io.store) return Promise.resolve(io.store);
        if (!target) throw new Error(`${what} does not open a store`);
        if (!opened) openedWith = options;
        opened ??= (io.open ?? openTarget)(target, options);
        return opened;
      },
      async reopen() {
        if (io.store || !opened || (target?.kind !== "level" && target?.kind !== "segments")) {
          return ctx.store(openedWith);
        }
        const old = opened;
        opened = undefined;
        await old.then((s) => s.close()).catch(() => undefined);
        return ctx.store(openedWith);
      },
      storeFolder: !io.store && (target?.kind === "level" || target?.kind === "segments")
        ? { kind: target.kind, path: target.path }
        : undefined,
      target: io.store ? io.store.log.location : target ? describeTarget(target) : "",
      stdout: io.stdout,
      stderr: io.stderr,
      isTTY: io.isTTY,
      color,
      columns: io.columns,
      env: io.env,
      now: () => io.now(),
      sleep: (ms) => sleep(ms, io.signal, io.clock ?? systemClock),
      signal: io.signal,
      prompt: (q) => io.prompt(q),
      readText: (p) => io.readText(p),
      openOutput: (p) => io.openOutput(p),
      serve: (a, o) => io.serve(a, o),
      openUrl: (u) => (io.openUrl ? io.openUrl(u) : Promise.resolve(false)),
    };
    return await command.run(args, ctx);
  } catch (err) {
    return report(err, command, io);
  } finally {
    if (opened) await opened.then((s) => s.close()).catch(() => undefined);
  }
}

/**
 * The command name and its arguments; flags before the command (`ckpt --store x list`) move after
 * it.
 */
function split(argv: readonly string[]): [string | undefined, string[]] {
  const at = argv.findIndex((a) => !a.startsWith("-"));
  if (at < 0) return [undefined, [...argv]];
  if (at === 0) return [argv[0], argv.slice(1)];
  const known = argv.findIndex((a) => findCommand(a) !== undefined || a === "help");
  if (known < 0) return [argv[at], [...argv.slice(0, at), ...argv.slice(at + 1)]];
  return [argv[known], [...argv.slice(0, known), ...argv.slice(known + 1)]];
}

function unknownCommand(name: string): UsageError {
  const guess = suggest(name, [...COMMANDS.map((c) => c.name), "help"]);
  return new UsageError(
    `unknown command ${JSON.stringify(name)}${guess ? `; did you mean "${guess}"?` : "."}`,
    "ckpt",
  );
}

/**
 * Errors become one line on stderr and an exit code; stack traces only for bugs, and only with
 * CKPT_DEBUG.
 */
async function report(err: unknown, command: Command | undefined, io: Io): Promise<number> {
  if (err instanceof UsageError) {
    await io.stderr.write(
      `error${err.code ? ` ${err.code}` : ""}: ${err.message}\nRun \`${
        err.command === "ckpt" ? "ckpt --help" : `${err.command} --help`
      }\` for usage.\n`,
    );
    return ExitCode.usage;
  }
  if (err instanceof Interrupted) {
    await io.stderr.write("interrupted\n");
    return ExitCode.interrupted;
  }
  if (isCkptError(err)) {
    await io.stderr.write(`error ${err.code}: ${err.message}\n`);
    if (err.code === "CKPT_LOCKED" && command && "store" in command.flags && !err.details?.stage) {
      await io.stderr.write(
        "hint: a pipeline holds this store. Run it through ckpt-server and point this command at it with --url.\n",
      );
    }
    for (const i of err.issues ?? []) {
      if (i.path.length) await io.stderr.write(`  at ${i.path.join(".")}: ${i.message}\n`);
    }
    if (io.env.CKPT_DEBUG && err.stack) await io.stderr.write(err.stack + "\n");
    return ExitCode.failure;
  }
  const e = err as Error;
  await io.stderr.write(`error: ${e?.message ?? String(err)}\n`);
  await io.stderr.write(
    io.env.CKPT_DEBUG
      ? `${e?.stack ?? ""}\n`
      : "(unexpected: set CKPT_DEBUG=1 for the stack trace, and please report it)\n",
  );
  return ExitCode.failure;
}

function sleep(ms: number, signal: AbortSignal, clock: Clock): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clock.clear(t);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const t = clock.setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}
