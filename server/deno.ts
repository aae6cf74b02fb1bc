/**
 * ckpt-server on Deno: listens through Deno.serve; main.ts does the rest. Run it with `deno task
 * serve`.
 */
import process from "node:process";
import { onSignals } from "../runtime/os-signals.ts";
import { type Listen, urlHost } from "./listen.ts";
import { main, type MainIo } from "./main.ts";

interface DenoServer {
  addr: { port: number };
  shutdown(): Promise<void>;
  finished: Promise<void>;
}

interface DenoApi {
  serve(
    options: { hostname: string; port: number; onListen?: (addr: { port: number }) => void },
    handler: (req: Request) => Response | Promise<Response>,
  ): DenoServer;
  exit(code: number): never;
  args: string[];
}

const deno = (globalThis as unknown as { Deno?: DenoApi }).Deno;

export const listen: Listen = (fetch, { host, port }) =>
  new Promise((resolve, reject) => {
    if (!deno) return reject(new Error("server/deno.ts runs on Deno; on Node use server/node.ts"));
    try {
      const server = deno.serve({ hostname: host, port, onListen: () => undefined }, fetch);
      resolve({
        url: `http://${urlHost(host)}:${server.addr.port}`,
        port: server.addr.port,
        // shutdown() stops accepting and waits for requests in flight; the grace only bounds the
        // wait (real timers, not the app's clock: it bounds real sockets, and a driven clock would
        // never end it).
        close: (graceMs = 10_000) =>
          Promise.race([server.shutdown(), new Promise<void>((r) => setTimeout(r, graceMs))]),
      });
    } catch (err) {
      reject(err);
    }
  });

export const denoIo: MainIo = {
  listen,
  env: process.env,
  stdout: (line) => console.log(line),
  stderr: (line) => console.error(line),
  onSignal: (handler) => onSignals(["SIGINT", "SIGTERM"], handler),
};

if ((import.meta as { main?: boolean }).main && deno) deno.exit(await main(deno.args, denoIo));
