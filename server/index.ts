/**
 * `ckpt/server`: the sidecar as a library. Mount `createApp(serverStore(log)).fetch` in a server
 * you already run, or `startServer()` to listen on a port of this process (Node's HTTP server; Deno
 * runs it too).
 */
import { CkptError, ErrorCode } from "../core/errors.ts";
import type { EventLog } from "../core/log.ts";
import { shutdown } from "../core/store.ts";
import type { Store } from "../core/store.ts";
import { type AppOptions, type CkptApp, createApp as createCkptApp } from "./app.ts";
import { isLoopback } from "./args.ts";
import type { GuardOptions } from "./guarded-log.ts";
import { listen } from "./node.ts";
import { serverStore } from "./store.ts";

export { VERSION } from "./app.ts";
export type { AppOptions } from "./app.ts";
export { parseTokens } from "./auth.ts";
export type { TokenTable } from "./auth.ts";
export { serverStore } from "./store.ts";
export type { GuardOptions } from "./guarded-log.ts";

/**
 * The sidecar as a request handler. Deliberately narrower than the app server/app.ts builds (its
 * Hono app, route table and context are internals that change with the sidecar).
 */
export interface SidecarApp {
  /**
   * A Web-standard handler: mount it in Hono (`app.mount("/ckpt", sidecar.fetch)`), Deno.serve,
   * Bun.serve…
   */
  readonly fetch: (req: Request) => Response | Promise<Response>;
  /**
   * Refuses new requests (503), ends live-update streams and waits for requests in flight (up to
   * `graceMs`).
   */
  drain(graceMs?: number): Promise<void>;
}

/**
 * Builds the sidecar over a store made by `serverStore(log)`, for a server you already run.
 * @example
 * const sidecar = createApp(serverStore(await levelLog("./.ckpt")), { tokens: parseTokens(process.env.CKPT_TOKENS ?? "", "CKPT_TOKENS") })
 * Deno.serve(sidecar.fetch)
 */
export function createApp(store: Store, options: AppOptions = {}): SidecarApp {
  return publicView(createCkptApp(store, options));
}

/** What library users get of the app: its handler and its drain. */
const publicView = (app: CkptApp): SidecarApp => ({
  fetch: app.fetch,
  drain: (graceMs?: number) => app.drain(graceMs),
});

export interface StartServerOptions extends AppOptions, GuardOptions {
  /** Default 127.0.0.1. Anything but loopback needs `tokens`. */
  host?: string;
  /** Default 0: a free port, read it from the result. */
  port?: number;
}

export interface RunningServer {
  /** `http://host:port`, the base URL clients (`ckpt/http`, `ckpt --url`) use. */
  readonly url: string;
  readonly port: number;
  readonly app: SidecarApp;
  /**
   * Stops accepting, finishes requests in flight (up to `graceMs`, default 10 s), pauses the runs
   * it holds and closes the store (and `log`).
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * Starts the sidecar on `log` in this process.
 * @example
 * const server = await startServer(await levelLog("./.ckpt"), { port: 7410 })
 * console.log(server.url); await server.close()
 */
export async function startServer(
  log: EventLog,
  options: StartServerOptions = {},
): Promise<RunningServer> {
  const { host = "127.0.0.1", port = 0, cacheSize, checkTransitions, ...rest } = options;
  if (!rest.tokens?.length && !isLoopback(host)) {
    throw new CkptError(
      ErrorCode.INVALID,
      `Refusing to listen on ${host} without tokens: pass tokens (parseTokens("admin:<secret>", "…")) or listen on 127.0.0.1.`,
    );
  }
  const store = serverStore(log, {
    ...(cacheSize === undefined ? {} : { cacheSize }),
    ...(checkTransitions === undefined ? {} : { checkTransitions }),
    ...(rest.clock === undefined ? {} : { clock: rest.clock }),
  });
  const ckpt = createCkptApp(store, rest);
  const app = publicView(ckpt);
  let listener;
  try {
    listener = await listen(ckpt.fetch, { host, port, hot: ckpt.hot });
  } catch (err) {
    await app.drain(0);
    await shutdown(store, "ckpt-server startup failed").catch(() => undefined);
    throw new CkptError(
      ErrorCode.UNAVAILABLE,
      `Cannot listen on ${host}:${port}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const stop = listener;
  return {
    url: stop.url,
    port: stop.port,
    app,
    async close(graceMs = 10_000) {
      await Promise.all([app.drain(graceMs), stop.close(graceMs)]);
      // Like the bin on SIGTERM: runs the sidecar holds for its clients are recorded as paused.
      await shutdown(store, "ckpt-server closed");
    },
  };
}
