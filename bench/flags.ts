/** `--name value` flags of the standalone bench scripts (bench/run.ts parses its own). */
import process from "node:process";

/** The value after `--name` on the command line, or undefined when the flag is absent. */
export function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}
