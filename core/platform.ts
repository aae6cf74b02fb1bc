/** What core needs from the runtime, injected so core itself touches no Node or Deno globals. */

export interface Platform {
  hostname(): string;
  pid(): number;
  /** SHA-256 (hex) of a file's bytes, streamed so large inputs are fine. */
  sha256File(path: string): Promise<string>;
  /** Reads an environment variable, or undefined. */
  env(name: string): string | undefined;
}

/** A platform for environments without files or processes (tests, browsers). */
export const nullPlatform: Platform = {
  hostname: () => "unknown",
  pid: () => 0,
  sha256File: () => Promise.reject(new Error("this platform cannot read files")),
  env: () => undefined,
};
