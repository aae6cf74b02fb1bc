/**
 * The Platform core needs, on Node and on Deno alike: both implement these `node:` modules,
 * so one file serves both runtimes.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { hostname } from "node:os";
import process from "node:process";
import { CkptError, ErrorCode } from "../core/errors.ts";
import type { Platform } from "../core/platform.ts";

/** True under Deno (its globals are there), false under Node. */
export const onDeno = "Deno" in globalThis;

export const runtimePlatform: Platform = {
  hostname: () => hostname(),
  pid: () => process.pid,
  env: (name) => process.env[name],
  sha256File: (path) =>
    new Promise((resolve, reject) => {
      const hash = createHash("sha256");
      createReadStream(path)
        .on("data", (chunk) => hash.update(chunk))
        .on("end", () => resolve(hash.digest("hex")))
        .on("error", (err: NodeJS.ErrnoException) =>
          reject(
            new CkptError(
              err.code === "ENOENT" ? ErrorCode.NOT_FOUND : ErrorCode.IO,
              `Cannot read the input file ${path} to fingerprint it: ${err.message}`,
              { cause: err, details: { path } },
            ),
          ));
    }),
};
