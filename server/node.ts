#!/usr/bin/env node
/** ckpt-server on Node: listens through @hono/node-server; main.ts does the rest. Installed, `npx ckpt-server` runs its build (dist/server/node.js); in this repo `node server/bin.mjs`. */
import { realpathSync } from "node:fs";
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerOptions,
} from "node:http";
import type { Duplex } from "node:stream";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { serve } from "@hono/node-server";
import type { HotPath } from "./hot-updates.ts";
import { type Listen, urlHost } from "./listen.ts";
import { onSignals } from "../runtime/os-signals.ts";
import { main, type MainIo } from "./main.ts";
import { dotSegmentResponse, hasDotSegment, rawErrorReply } from "./raw-replies.ts";

const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export const listen: Listen = (
  fetch,
  { host, port, requestTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS, hot },
) =>
  new Promise((resolve, reject) => {
    // The raw target, before the URL parser resolves dot segments away.
    const guarded = (
      req: Request,
      env?: { incoming?: { url?: string | undefined } | undefined },
    ) => (hasDotSegment(env?.incoming?.url) ? dotSegmentResponse() : fetch(req));
    const serverOptions = {
      requestTimeout: requestTimeoutMs,
      headersTimeout: Math.min(requestTimeoutMs, 60_000),
      // How often Node looks for timed-out requests (its default, 30 s, would make a short timeout
      // late).
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(requestTimeoutMs / 4))),
    };
    const server = serve({
      fetch: guarded,
      hostname: host,
      port,
      serverOptions,
      ...(hot ? { createServer: withHotPath(hot) } : {}),
    }, (info) => {
      server.off("error", reject);
      resolve({
        url: `http://${urlHost(host)}:${info.port}`,
        port: info.port,
        close: (graceMs = 10_000) =>
          new Promise<void>((done) => {
            // close() stops accepting and waits for open connections; idle keep-alive ones go now,
            // the rest after the grace. Real timers, not the app's clock: the grace bounds real
            // sockets, and a driven clock would never end it.
            const force = setTimeout(() => server.closeAllConnections(), graceMs);
            server.close(() => {
              clearTimeout(force);
              done();
            });
            server.closeIdleConnections();
          }),
      });
    }) as Server;
    server.once("error", reject);
    // Node's own refusals (bad HTTP, huge headers, request timeout) get the same JSON error body as
    // the app's; a client that went away is not an error worth a log line.
    server.on("clientError", (err: Error & { code?: string }, socket: Duplex) => {
      if (err.code === "ECONNRESET" || !socket.writable) return void socket.destroy();
      socket.end(rawErrorReply(err.code));
    });
  });

/**
 * Node's HTTP server with the app's hot path in front: a request it claims is read and answered
 * here, the rest go to @hono/node-server's listener as before.
 */
function withHotPath(hot: HotPath): typeof createServer {
  return ((options: ServerOptions, listener: RequestListener): Server =>
    createServer(options, (req, res) => {
      const header = (name: string) => req.headersDistinct[name]?.join(", ");
      const params = hot.claim(req.method ?? "", req.url ?? "", header);
      if (!params) return listener(req, res);
      let reading = false;
      const body = () => {
        reading = true;
        return readBody(req);
      };
      void hot.serve(params, header, body).then((r) => {
        r.headers["content-length"] = String(Buffer.byteLength(r.body));
        res.writeHead(r.status, r.headers).end(r.body);
        // Answered before the body was read (refused on its headers): let it go by, as the app's
        // adapter does.
        if (!reading) discardBody(req);
      }).catch(() => res.destroy()); // an answer that cannot be written: the client is gone
    })) as typeof createServer;
}

/** The whole body; undefined when the client went away (or was timed out) before its end. */
function readBody(req: IncomingMessage): Promise<Uint8Array | undefined> {
  if (req.destroyed) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      chunks.push(c);
      size += c.length;
    });
    req.once("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    // 'close' after 'end' changes nothing (a promise settles once).
    req.once("close", () => resolve(undefined));
    req.once("error", () => resolve(undefined));
  });
}

/** How long an unread body may take to go by before its connection is closed. */
const DISCARD_MS = 500;

function discardBody(req: IncomingMessage): void {
  if (req.readableEnded || req.destroyed) return;
  const timer = setTimeout(() => req.socket.destroy(), DISCARD_MS);
  timer.unref();
  const done = () => clearTimeout(timer);
  req.once("end", done);
  req.once("close", done);
  req.resume();
}

export const nodeIo: MainIo = {
  listen,
  env: process.env,
  stdout: (line) => void process.stdout.write(line + "\n"),
  stderr: (line) => void process.stderr.write(line + "\n"),
  onSignal: (handler) => onSignals(["SIGINT", "SIGTERM"], handler),
};

/**
 * Runs the sidecar and exits with its code (sockets or timers left behind must not keep the process
 * alive).
 */
export async function run(argv: readonly string[]): Promise<never> {
  const code = await main(argv, nodeIo);
  process.stdout.write("", () => process.exit(code));
  return new Promise<never>(() => undefined);
}

/** Started directly (`tsx server/node.ts`) rather than imported by bin.mjs or a test. */
function isEntry(): boolean {
  try {
    return process.argv[1] !== undefined &&
      import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}

if (isEntry()) await run(process.argv.slice(2));
