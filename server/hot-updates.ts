/**
 * The request a worker sends for every item, POST /v1/stages/:stage/runs/:runId/updates, served
 * below the framework. The Node server (node.ts) hands it here straight from its socket, skipping
 * the Web Request/Response conversion and Hono's router and middleware: together a quarter of the
 * sidecar's CPU per single-update request (bench/sidecar-single.ts). Only the plain shape is claimed
 * (no query, no escapes or dot segments, a JSON body of declared length within the limit);
 * everything else goes to the app. What runs is the app's own: its admission (shutdown, in-flight
 * cap), the route's checks (auth, path, body), the route's work, the error table and the request
 * metrics, so both paths answer alike (test/server/hot-updates.test.ts sends the same requests
 * both ways).
 */
import { bodyCutShort, isJsonType, parseJsonBytes } from "./body.ts";
import type { ServerContext } from "./context.ts";
import { errorResponse } from "./errors.ts";
import { NO_ROUTE } from "./metrics.ts";
import type { RouteChecks } from "./route.ts";
import { recordUpdates } from "./routes/stages.ts";
import type { Update } from "../protocol/stages.ts";

/** An answer, ready for the socket. */
export interface HotReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A request's header by lower-case name, repeated ones joined with ", " (as `Headers` does). */
export type HeaderOf = (name: string) => string | undefined;

export interface HotPath {
  /**
   * The route's path parameters when this path serves the request (decided from its first line and
   * headers alone); undefined: the app's.
   */
  claim(method: string, url: string, header: HeaderOf): Record<string, string> | undefined;
  /**
   * Answers a claimed request, checking what the app checks in the app's order; `body` reads the
   * request's body (undefined: the client went away before sending it all), called only once the
   * request is admitted and authorized, as the app reads it.
   */
  serve(
    params: Record<string, string>,
    header: HeaderOf,
    body: () => Promise<Uint8Array | undefined>,
  ): Promise<HotReply>;
}

/**
 * Segments the Node adapter passes on and the router matches as they are: characters a URL keeps
 * unescaped, no `%` escapes to decode, no `?`, `#` or backslash.
 */
const SEGMENT = "([A-Za-z0-9!$&'()*+,;=:@._~\\[\\]-]+)";
const UPDATES_URL = new RegExp(`^/v1/stages/${SEGMENT}/runs/${SEGMENT}/updates$`);
const DOT_SEGMENT = /^\.\.?$/;
/**
 * A Host @hono/node-server takes as it is (lower case, a port of four or five digits); any other is
 * parsed, and maybe refused, there.
 */
const PLAIN_HOST = /^[a-z0-9._-]+(?::(?:[1-5]\d{3,4}|[6-9]\d{3}))?$/;
const DECLARED_LENGTH = /^\d{1,9}$/;

export function hotUpdates(
  ctx: ServerContext,
  checks: RouteChecks,
  /** Admission as the app's middleware does it: throws when draining or at the in-flight cap. */
  admit: () => void,
  onError: (err: unknown) => void,
): HotPath {
  const { method, path } = checks.spec;
  const limit = checks.bodyLimit;
  return {
    claim(m, url, header) {
      if (m !== method) return undefined;
      const match = UPDATES_URL.exec(url);
      if (!match || DOT_SEGMENT.test(match[1]!) || DOT_SEGMENT.test(match[2]!)) return undefined;
      const host = header("host");
      if (host === undefined || !PLAIN_HOST.test(host)) return undefined;
      if (header("transfer-encoding") !== undefined || !isJsonType(header("content-type"))) {
        return undefined;
      }
      const length = header("content-length");
      if (length === undefined || !DECLARED_LENGTH.test(length)) return undefined;
      const n = Number(length);
      if (n === 0 || n > limit) return undefined;
      return { stage: match[1]!, runId: match[2]! };
    },

    async serve(raw, header, readBody) {
      let reply: HotReply;
      let route = NO_ROUTE;
      try {
        admit();
        ctx.status.inFlight++;
        try {
          route = path;
          checks.role(header("authorization") ?? null);
          const params = checks.params(raw) as { stage: string; runId: string };
          const bytes = await readBody();
          if (bytes === undefined) throw bodyCutShort();
          const body = checks.body(parseJsonBytes(bytes, limit)) as { updates: Update[] };
          const done = await recordUpdates(ctx.runs, params, body, header("if-match"));
          reply = jsonReply(200, done.body, done.headers);
        } finally {
          ctx.status.inFlight--;
        }
      } catch (err) {
        const r = errorResponse(err);
        if (r.internal) onError(err);
        reply = jsonReply(r.status, r.body, r.headers);
      }
      ctx.metrics.countRequest(method, route, reply.status);
      return reply;
    },
  };
}

/** Status, headers and body as json-response.ts answers them, for the socket. */
const jsonReply = (status: number, body: unknown, headers: Record<string, string>): HotReply => ({
  status,
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});
