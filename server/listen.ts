/** What node.ts and deno.ts each provide: serve a fetch handler, and stop gracefully. */
import type { HotPath } from "./hot-updates.ts";

export interface Listener {
  /** e.g. http://127.0.0.1:7410 */
  readonly url: string;
  readonly port: number;
  /**
   * Stops accepting, lets requests in flight finish (up to `graceMs`), then closes what is left.
   */
  close(graceMs?: number): Promise<void>;
}

export type Listen = (
  fetch: (req: Request) => Response | Promise<Response>,
  options: {
    host: string;
    port: number; /** A request not fully received by then is answered 408. */
    requestTimeoutMs?: number;
    /** The app's single-update path below the framework, for a server that can use it. */
    hot?: HotPath;
  },
) => Promise<Listener>;

/** Brackets IPv6 hosts for URLs. */
export const urlHost = (
  host: string,
) => (host.includes(":") && !host.startsWith("[") ? `[${host}]` : host);
