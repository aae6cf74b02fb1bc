/** `--help` text for the whole CLI and for each command, generated from the command specs. */
import type { Command } from "./command.ts";
import { COMMANDS } from "./commands/index.ts";
import { TARGET_FLAGS } from "./target.ts";

export const ENV_HELP = [
  ["CKPT_STORE", "LevelDB folder, segments:<dir> or postgres:// URL, as --store (default ./.ckpt)"],
  ["CKPT_URL", "ckpt-server URL, as --url"],
  ["CKPT_TOKEN", "bearer token for the sidecar, as --token"],
  ["CKPT_EVENTSTORE", "EventStoreDB connection string, as --eventstore"],
  ["CKPT_MEMORY", "1: an in-memory store (empty; for tests)"],
  ["", "a target flag beats these; two flags, or two of these set, are refused"],
  ["NO_COLOR", "set (non-empty) to turn colour off"],
  ["CKPT_DEBUG", "set to print stack traces of unexpected errors"],
] as const;

const EXIT_HELP =
  "0 ok · 1 failure (a CKPT error, a problem verify found) · 2 usage (bad arguments, reset without --force off a terminal) · 130 interrupted";

function columns(rows: readonly (readonly [string, string])[], indent = "  "): string {
  const w = Math.max(...rows.map(([a]) => a.length));
  return rows.map(([a, b]) => `${indent}${a.padEnd(w)}   ${b}`).join("\n");
}

export function rootHelp(version: string): string {
  return [
    `ckpt ${version}: inspect and manage event-sourced checkpoint stores`,
    "",
    "Usage: ckpt <command> [options]",
    "",
    "Commands:",
    columns(COMMANDS.map((c) => [c.name, c.summary])),
    "",
    "Targets (every command that reads or writes a store):",
    columns(Object.entries(TARGET_FLAGS).map(([n, f]) => [`--${n} ${f.value}`, f.description])),
    "",
    "Environment:",
    columns(ENV_HELP),
    "",
    `Exit codes: ${EXIT_HELP}`,
    "",
    "Run `ckpt <command> --help` for a command's options.",
    "",
  ].join("\n");
}

export function commandHelp(c: Command): string {
  const args = c.positionals.map((
    p,
  ) => (p.required ? `<${p.name}>` : `[${p.name}${p.variadic ? "..." : ""}]`)).join(" ");
  const flags = Object.entries(c.flags).map(
    ([n, f]) =>
      [
        `${f.short ? `-${f.short}, ` : "    "}--${n}${f.value ? ` ${f.value}` : ""}`,
        f.description + (f.repeat ? " (repeatable)" : ""),
      ] as const,
  );
  return [
    `Usage: ckpt ${c.name}${args ? ` ${args}` : ""}${flags.length ? " [options]" : ""}`,
    "",
    c.summary.charAt(0).toUpperCase() + c.summary.slice(1) + ".",
    ...(c.details ? ["", c.details] : []),
    ...(c.positionals.length
      ? ["", "Arguments:", columns(c.positionals.map((p) => [`<${p.name}>`, p.description]))]
      : []),
    ...(flags.length ? ["", "Options:", columns(flags)] : []),
    "",
    "Examples:",
    ...c.examples.map((e) => `  ${e}`),
    "",
    `Exit codes: ${EXIT_HELP}`,
    "",
  ].join("\n");
}
