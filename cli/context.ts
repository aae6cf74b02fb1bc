/**
 * What a command may touch: the store (opened lazily), output streams, terminal facts, env and
 * clock. Nothing else.
 */
import type { Store } from "../core/store.ts";
import type { ParsedArgs } from "./args.ts";

export interface StoreOptions {
  create?: boolean;
  readOnly?: boolean;
}

/** A text sink. A returned promise means "wait before writing more" (back-pressure). */
export interface Out {
  write(text: string): void | Promise<void>;
}

/** A file (or stdout) being written; `close()` resolves once everything is on disk. */
export interface OutputFile extends Out {
  close(): Promise<void>;
  /** Gives up: a file being replaced keeps its old content. */
  abort(): Promise<void>;
}

export interface Ctx {
  /**
   * Opens the target on the first call (so `--help` and usage errors never touch it), the same
   * store afterwards. `readOnly`: a LevelDB folder is read through a private view and never written;
   * a segment log is read without its lock, beside its writer (list, show, replay, …).
   */
  store(options?: StoreOptions): Promise<Store>;
  /**
   * Closes the store and opens it again with the same options: a read-only LevelDB view sees what
   * was written since.
   */
  reopen(): Promise<Store>;
  /**
   * The LevelDB or segment-log folder when the target is one (for `verify --repair`), else
   * undefined.
   */
  readonly storeFolder: { kind: "level" | "segments"; path: string } | undefined;
  /** The target for messages: a folder, a URL or a connection string without credentials. */
  readonly target: string;
  readonly stdout: Out;
  readonly stderr: Out;
  readonly isTTY: { readonly stdin: boolean; readonly stdout: boolean; readonly stderr: boolean };
  /** ANSI colour on stdout: a TTY, no NO_COLOR, no --no-color. */
  readonly color: boolean;
  /** Terminal width for bars and in-place redraws. */
  readonly columns: number;
  readonly env: Readonly<Record<string, string | undefined>>;
  now(): number;
  /** Resolves after `ms`, or early when `signal` aborts. */
  sleep(ms: number): Promise<void>;
  /** Aborted by Ctrl+C: `watch` and `--follow` end cleanly, long loops stop. */
  readonly signal: AbortSignal;
  /** One line typed by the user (null at end of input). Only asked when stdin is a TTY. */
  prompt(question: string): Promise<string | null>;
  /** A whole text file; "-" reads stdin. */
  readText(path: string): Promise<string>;
  /** A file to write, replaced atomically on close; "-" writes stdout. */
  openOutput(path: string): Promise<OutputFile>;
  /** Starts the sidecar with these arguments; resolves with its exit code when it stops. */
  serve(argv: readonly string[], options?: ServeOptions): Promise<number>;
  /** Opens `url` in the user's browser; false when no browser could be started. */
  openUrl(url: string): Promise<boolean>;
}

export interface ServeOptions {
  /** Called once the sidecar listens, with its base URL (no trailing slash). */
  onListening?: (url: string) => void;
}

/**
 * One command: a pure function of its parsed arguments and the context, resolving to an exit code.
 */
export type CommandFn = (args: ParsedArgs, ctx: Ctx) => Promise<number>;
