/**
 * The command line of both executables, `ckpt` and `ckpt-server`: one flag grammar (`--flag value`,
 * `--flag=value`, short flags, repeats, `--`), flags over their environment variable over their
 * default, one reading of counts, byte sizes and durations (core/duration.ts), and "did you mean"
 * usage errors. Imported by cli/ and server/ only.
 */
import { parseDuration } from "../core/duration.ts";
import { isCkptError } from "../core/errors.ts";

/**
 * A wrong command line. `command` names the command whose `--help` to point at; `code` carries a
 * CKPT code when core's validation found the problem (e.g. CKPT_INVALID for a stage name).
 */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command: string = "ckpt",
    readonly code?: string,
  ) {
    super(message);
    this.name = "UsageError";
  }
}

export interface FlagSpec {
  /** "boolean" flags take no value; "string" flags take exactly one. */
  type: "boolean" | "string";
  description: string;
  /** How the value is shown in help, e.g. "<dir>". */
  value?: string;
  short?: string;
  /** May be given several times (values are collected in order). */
  repeat?: boolean;
  /** The environment variable that stands in when the flag is not given (`valueOf`). */
  env?: string;
  /** The value when neither flag nor variable is given (`valueOf`), as shown in help. */
  default?: string;
}

export interface PositionalSpec {
  name: string;
  description: string;
  required?: boolean;
  /** Takes every remaining positional. */
  variadic?: boolean;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

export interface ParsedArgs {
  positionals: string[];
  flags: Record<string, string | string[] | true>;
}

/**
 * Parses `argv` against `flags` and `positionals`; throws UsageError (exit 2) naming the closest
 * flag when one is unknown. `--` ends flags. `what` names the command in messages ("ckpt list").
 * @example parseArgs(["fetch", "--json"], { json: { type: "boolean", description: "" } }, [{ name: "stage", description: "" }], "ckpt show")
 */
export function parseArgs(
  argv: readonly string[],
  flags: FlagSpecs,
  positionals: readonly PositionalSpec[],
  what: string,
): ParsedArgs {
  const out: ParsedArgs = { positionals: [], flags: {} };
  const byShort = new Map(
    Object.entries(flags).flatMap(([name, f]) => (f.short ? [[f.short, name] as const] : [])),
  );
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === "-" || !arg.startsWith("-") || /^-\d/.test(arg)) {
      out.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const rawName = arg.startsWith("--")
      ? arg.slice(2, eq < 0 ? undefined : eq)
      : byShort.get(arg.slice(1, eq < 0 ? undefined : eq)) ?? `-${arg.slice(1)}`;
    const spec = flags[rawName];
    if (!spec) {
      const guess = suggest(rawName.replace(/^-+/, ""), Object.keys(flags));
      throw new UsageError(
        `unknown flag ${arg.slice(0, eq < 0 ? undefined : eq)} for \`${what}\`` +
          (guess ? `; did you mean --${guess}?` : "."),
        what,
      );
    }
    let value: string | true;
    if (spec.type === "boolean") {
      if (eq >= 0) throw new UsageError(`--${rawName} takes no value.`, what);
      value = true;
    } else if (eq >= 0) {
      value = arg.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith("--") && next !== "--")) {
        throw new UsageError(
          `--${rawName} needs a value${spec.value ? ` ${spec.value}` : ""}.`,
          what,
        );
      }
      value = next;
      i++;
    }
    const prev = out.flags[rawName];
    if (prev !== undefined && !spec.repeat && spec.type === "string") {
      throw new UsageError(`--${rawName} was given twice.`, what);
    }
    out.flags[rawName] = spec.repeat && typeof value === "string"
      ? [...(Array.isArray(prev) ? prev : []), value]
      : value;
  }
  if (out.flags.help) return out; // --help wins over missing or extra arguments
  const variadic = positionals.some((p) => p.variadic);
  const required = positionals.filter((p) => p.required).length;
  if (out.positionals.length < required) {
    const missing = positionals[out.positionals.length]!;
    throw new UsageError(`missing <${missing.name}>: ${missing.description}.`, what);
  }
  if (!variadic && out.positionals.length > positionals.length) {
    throw new UsageError(
      `unexpected argument ${JSON.stringify(out.positionals[positionals.length])}.`,
      what,
    );
  }
  return out;
}

/** The string value of a flag, or undefined. */
export function str(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags[name];
  return typeof v === "string" ? v : Array.isArray(v) ? v[v.length - 1] : undefined;
}

/** Every value a repeatable flag was given. */
export function list(args: ParsedArgs, name: string): string[] {
  const v = args.flags[name];
  return Array.isArray(v) ? v : typeof v === "string" ? [v] : [];
}

export function bool(args: ParsedArgs, name: string): boolean {
  return args.flags[name] === true;
}

/** Edit distance counting a swap of two neighbours as one edit ("lsit" is 1 from "list"). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from(
    { length: a.length + 1 },
    (_, i) => [i, ...Array<number>(b.length).fill(0)],
  );
  for (let j = 0; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      }
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The closest candidate within a typo's reach (a third of the word, at least 1, at most 3), or a
 * prefix match.
 */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) (best = c), (bestD = d);
  }
  const reach = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  if (best !== undefined && bestD <= reach) return best;
  const prefixed = candidates.filter((c) => word.length >= 2 && c.startsWith(word));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/**
 * A string flag's value: from the command line, else its variable (`spec.env`, when set and not
 * empty), else (unless `withDefault` is false: "was it given at all?") its default.
 */
export function valueOf(
  args: ParsedArgs,
  specs: FlagSpecs,
  name: string,
  env: Readonly<Record<string, string | undefined>>,
  withDefault = true,
): string | undefined {
  const spec = specs[name];
  const fromEnv = spec?.env === undefined ? undefined : env[spec.env];
  return str(args, name) ?? (fromEnv === undefined || fromEnv === "" ? undefined : fromEnv) ??
    (withDefault ? spec?.default : undefined);
}

/**
 * Milliseconds in a duration flag, in the one grammar of core/duration.ts ("30s", "1h30m", "7d").
 * @example durationValue("7d", "--max-age", "ckpt compact") // 604800000
 */
export function durationValue(text: string, flag: string, command: string): number {
  try {
    return parseDuration(text);
  } catch (e) {
    throw new UsageError(
      `${flag} expects a duration such as 30s, 15m, 1h30m or 7d; ${
        isCkptError(e) ? e.message : String(e)
      }`,
      command,
    );
  }
}

/** A whole number from `min` to `max`. */
export function countValue(
  text: string,
  flag: string,
  command: string,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max < Number.MAX_SAFE_INTEGER
      ? ` from ${min} to ${max}`
      : min > 0
      ? ` ≥ ${min}`
      : "";
    throw new UsageError(
      `${flag} expects a whole number${range}; got ${JSON.stringify(text)}.`,
      command,
    );
  }
  return n;
}

/** A size in bytes, with an optional k or m suffix (1024s): "1m" is 1048576. At least `min`. */
export function bytesValue(text: string, flag: string, command: string, min = 1024): number {
  const m = /^(\d+)\s*(k|kb|kib|m|mb|mib)?$/i.exec(text.trim());
  if (!m) {
    throw new UsageError(
      `${flag} expects a size in bytes, like 1048576 or 1m; got ${JSON.stringify(text)}.`,
      command,
    );
  }
  const unit = m[2] ? (m[2][0]!.toLowerCase() === "k" ? 1024 : 1024 * 1024) : 1;
  const n = Number(m[1]) * unit;
  if (n < min) {
    throw new UsageError(
      `${flag} expects at least ${min} bytes; got ${JSON.stringify(text)}.`,
      command,
    );
  }
  return n;
}
