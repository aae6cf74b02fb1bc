/**
 * Test helpers for the sidecar: a real store and app, a real listener on a random loopback port,
 * child workers.
 */
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import process from "node:process";
import { levelLog } from "../../adapters/level.ts";
import type { EventLog } from "../../core/log.ts";
import type { Store, StoreOptions } from "../../core/store.ts";
import { type AppOptions, type CkptApp, createApp } from "../../server/app.ts";
import { parseTokens } from "../../server/auth.ts";
import type { GuardOptions } from "../../server/guarded-log.ts";
import type { HotPath } from "../../server/hot-updates.ts";
import type { Listener } from "../../server/listen.ts";
import { serverStore } from "../../server/store.ts";
import { tempDir } from "../helpers/tmp.ts";

export const isDeno = "Deno" in globalThis;

/**
 * This runtime's listener: Deno.serve on Deno, @hono/node-server on Node, with the app's hot path
 * as ckpt-server has it.
 */
export async function listen(
  fetch: (req: Request) => Response | Promise<Response>,
  hot?: HotPath,
): Promise<Listener> {
  const mod = isDeno ? await import("../../server/deno.ts") : await import("../../server/node.ts");
  return mod.listen(fetch, { host: "127.0.0.1", port: 0, ...(hot ? { hot } : {}) });
}

export const TOKENS = {
  admin: "admin-secret-0123456789",
  write: "write-secret-0123456789",
  read: "read-secret-0123456789",
} as const;
export const TOKEN_SPEC = `admin:${TOKENS.admin},write:${TOKENS.write},read:${TOKENS.read}`;

export interface Sidecar {
  store: Store;
  ckpt: CkptApp;
  /** Real LevelDB log under the guard (`store.log.inner`). */
  inner: EventLog;
  listener?: Listener;
  url: string;
  close(): Promise<void>;
}

/** A sidecar over a fresh LevelDB folder; `serve` also listens on 127.0.0.1:0. */
export async function sidecar(
  o: {
    serve?: boolean;
    auth?: boolean;
    app?: AppOptions;
    store?: StoreOptions & GuardOptions;
    log?: EventLog;
  } = {},
): Promise<Sidecar> {
  const dir = o.log ? undefined : await tempDir("ckpt-server-test-");
  const inner = o.log ?? (await levelLog(dir!.path));
  const store = serverStore(inner, o.store);
  const ckpt = createApp(store, {
    ...(o.auth ? { tokens: parseTokens(TOKEN_SPEC, "test") } : {}),
    onError: (e) => console.error("INTERNAL", e),
    ...o.app,
  });
  const listener = o.serve ? await listen(ckpt.fetch, ckpt.hot) : undefined;
  return {
    store,
    ckpt,
    inner,
    ...(listener ? { listener } : {}),
    url: listener?.url ?? "http://app.invalid",
    async close() {
      await ckpt.drain(2000);
      await listener?.close(2000);
      await store.close().catch(() => undefined);
      await dir?.remove();
    },
  };
}

export type Call = (path: string, init?: RequestInit) => Promise<Response>;

/** The same request through app.request() or over real HTTP. */
export function caller(s: Sidecar, transport: "app" | "http"): Call {
  return transport === "app"
    ? async (p, i) => s.ckpt.app.request(p, i)
    : (p, i) => fetch(s.url + p, i);
}

export function json(
  method: string,
  body?: unknown,
  headers: Record<string, string> = {},
): RequestInit {
  return {
    method,
    headers: { "content-type": "application/json", ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Parses NDJSON text into objects. */
export const lines = (text: string) =>
  text.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

/** The sidecar's entry point on this runtime, for spawnTs. */
export const serverEntry =
  new URL(isDeno ? "../../server/deno.ts" : "../../server/node.ts", import.meta.url).pathname;

/** Spawns a TypeScript file as a child process on this runtime. */
export function spawnTs(file: string, args: string[], env: Record<string, string> = {}) {
  const cmd = isDeno
    ? [process.execPath, "run", "-A", "--quiet", file]
    : [process.execPath, "--import", "tsx", file];
  return spawn(cmd[0]!, [...cmd.slice(1), ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it is true or `ms` pass; returns its last answer. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  ms = 3000,
): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return true;
    await sleep(20);
  }
  return check();
}

/**
 * A loopback port free right now, for a server that must come back on the same port after a
 * restart.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}
