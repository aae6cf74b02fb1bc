/**
 * `ckpt serve`: starts the ckpt-server sidecar in the foreground, passing every argument through to
 * it.
 */
import type { Command } from "../command.ts";

export const serveCommand: Command = {
  name: "serve",
  summary: "start the ckpt-server sidecar (arguments go to it; `ckpt serve --help` shows them)",
  positionals: [{
    name: "server-args",
    description: "passed to ckpt-server unchanged",
    variadic: true,
  }],
  flags: {},
  passthrough: true,
  details:
    "The same as `npx ckpt-server ...` (Node) or `deno task serve ...` (Deno); it runs until Ctrl+C or SIGTERM.",
  examples: ["ckpt serve --store ./.ckpt --port 7410", "ckpt serve --help"],
  async run(args, ctx) {
    return ctx.serve(args.positionals);
  },
};
