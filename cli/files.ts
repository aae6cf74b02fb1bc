/**
 * Files for `export` and `import` on Node and Deno (both implement node:fs): atomic replacement on
 * write.
 */
import { createWriteStream } from "node:fs";
import { readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Out, OutputFile } from "./context.ts";

/** Reads a whole text file, or stdin for "-". */
export async function readText(path: string, stdin: () => Promise<string>): Promise<string> {
  return path === "-" ? stdin() : readFile(path, "utf8");
}

/**
 * A file written through a temporary sibling and renamed over `path` on close, so a failed or
 * interrupted export never leaves half a file where a good one was. "-" writes to `stdout`.
 */
export async function openOutput(path: string, stdout: Out): Promise<OutputFile> {
  if (path === "-") {
    return {
      write: (t) => stdout.write(t),
      close: async () => undefined,
      abort: async () => undefined,
    };
  }
  const tmp = join(dirname(path), `.${basename(path)}.${Date.now().toString(36)}.tmp`);
  const stream = createWriteStream(tmp, { encoding: "utf8" });
  await new Promise<void>((resolve, reject) =>
    stream.once("open", () => resolve()).once("error", reject)
  );
  let failed: Error | undefined;
  stream.on("error", (e) => (failed = e));
  return {
    write(text) {
      if (failed) throw failed;
      if (!stream.write(text)) {
        return new Promise((resolve) => stream.once("drain", () => resolve()));
      }
    },
    async close() {
      await new Promise<void>((resolve, reject) =>
        stream.end((err?: Error | null) => (err ? reject(err) : resolve()))
      );
      if (failed) throw failed;
      await rename(tmp, path);
    },
    async abort() {
      stream.destroy();
      await rm(tmp, { force: true });
    },
  };
}
