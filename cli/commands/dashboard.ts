/**
 * `ckpt dashboard`: the sidecar with its web dashboard on a local store, on loopback, in one
 * command (`--open` opens the browser).
 */
import { bool, str } from "../args.ts";
import { COLOR_FLAG, type Command, HELP_FLAG } from "../command.ts";
import { parseCount } from "../values.ts";

const CMD = "ckpt dashboard";

export const dashboardCommand: Command = {
  name: "dashboard",
  summary:
    "watch every stage live in the browser: starts ckpt-server with its dashboard on loopback",
  positionals: [],
  flags: {
    store: {
      type: "string",
      value: "<dir>",
      description: "LevelDB folder (default: $CKPT_STORE, else ./.ckpt)",
    },
    port: {
      type: "string",
      value: "<n>",
      description: "port to listen on (default 7410; 0 picks a free one)",
    },
    host: {
      type: "string",
      value: "<addr>",
      description: "address to listen on (default 127.0.0.1; anything else needs CKPT_TOKENS)",
    },
    open: {
      type: "boolean",
      description: "open the dashboard in the default browser once it listens",
    },
    ...COLOR_FLAG,
    ...HELP_FLAG,
  },
  details:
    "The dashboard is ckpt-server's page at /: the same process also serves the HTTP API, so pipelines can write through it " +
    "(CKPT_URL=http://127.0.0.1:7410) while you watch. A LevelDB folder is open in one process at a time: a pipeline that opens " +
    "the folder itself must stop first, or write through this sidecar instead. Stops on Ctrl+C.",
  examples: ["ckpt dashboard", "ckpt dashboard --store ./.ckpt --open", "ckpt dashboard --port 0"],
  async run(args, ctx) {
    const port = str(args, "port");
    if (port !== undefined) parseCount(port, "--port", CMD);
    const store = str(args, "store");
    const argv = [
      ...(store !== undefined ? ["--store", store] : []),
      "--host",
      str(args, "host") ?? "127.0.0.1",
      ...(port !== undefined ? ["--port", port] : []),
    ];
    const open = bool(args, "open");
    return ctx.serve(argv, {
      onListening: (url) => {
        void ctx.stdout.write(`dashboard: ${url}/\n`);
        if (open) {
          void ctx.openUrl(`${url}/`).then((
            ok,
          ) => (ok
            ? undefined
            : ctx.stderr.write(`could not start a browser; open ${url}/ yourself\n`))
          );
        }
      },
    });
  },
};
