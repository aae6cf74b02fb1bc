/**
 * What every part of the sidecar's protocol shares: an endpoint as data (method, path, the zod
 * schemas of its params, query, body and success response), the error body, and the small field
 * schemas (query integers, times) the other protocol files build on.
 */
import { z } from "zod";
import { StageName } from "../core/events.ts";
import { Status } from "../core/state.ts";

export type Method = "GET" | "POST" | "PUT" | "DELETE";

/**
 * One route of the wire protocol. The server mounts it (validating params, query and body with
 * these schemas), the HTTP adapter builds its requests from it and parses the answer with
 * `response`, and /openapi.json is generated from the same objects.
 */
export interface Endpoint {
  method: Method;
  /** Hono-style pattern: `/v1/log/streams/:stream`. */
  path: string;
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  /**
   * The JSON body of a success (for NDJSON, one line); absent when the answer is empty or not JSON.
   */
  response?: z.ZodType;
}

/** Keeps each endpoint's schema types precise while checking it is an Endpoint. */
export const endpoint = <E extends Endpoint>(e: E): E => e;

/**
 * The path for `params`, each segment URL-encoded: `pathOf(Log.info, { stream: "a b" })` →
 * `/v1/log/streams/a%20b`.
 */
export function pathOf(e: Endpoint, params: Record<string, string | number> = {}): string {
  return e.path.replace(/:([A-Za-z0-9_]+)/g, (_m, name: string) => {
    const v = params[name];
    if (v === undefined) throw new TypeError(`${e.method} ${e.path}: no value for :${name}`);
    return encodeURIComponent(String(v));
  });
}

/** A query string (with its `?`, or empty) from a query schema's input: only the fields given. */
export function queryOf(q: Record<string, string | undefined> = {}): string {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) s.set(k, v);
  return s.size > 0 ? `?${s}` : "";
}

/** A non-negative integer in a query string. */
export const nat = (what: string) =>
  z.string().regex(/^\d{1,15}$/, `${what} must be a non-negative integer`).transform(Number)
    .describe(`${what} (non-negative integer)`);

/** Milliseconds since the epoch, or an ISO 8601 date. */
export const time = z
  .string()
  .max(40)
  .transform((s, ctx) => {
    const ms = /^\d{1,15}$/.test(s) ? Number(s) : Date.parse(s);
    if (Number.isNaN(ms)) {
      ctx.addIssue({ code: "custom", message: "expected ms since the epoch or an ISO 8601 date" });
    }
    return ms;
  })
  .describe("ms since the epoch, or an ISO 8601 date");

export const hex64 = z.string().regex(/^[0-9a-fA-F]{64}$/, "expected 64 hex digits (SHA-256)");
export const STATUSES = Object.values(Status) as [Status, ...Status[]];

export const StageParams = z.strictObject({ stage: StageName });
export const NoQuery = z.strictObject({});

/** Every failure, with a stable CKPT_* code. */
export const ErrorResponse = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    issues: z.array(
      z.object({ path: z.array(z.union([z.string(), z.number()])), message: z.string() }),
    ).optional(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
});
export type ErrorResponse = z.infer<typeof ErrorResponse>;
