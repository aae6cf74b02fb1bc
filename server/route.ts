/**
 * A route is data: a protocol endpoint (method, path, zod schemas for params / query / body /
 * response, from protocol/), a role and a handler. `mount` turns it into a Hono handler that
 * authenticates, authorizes and validates, in that order, before the handler sees anything;
 * openapi.ts documents the same objects.
 */
import type { Context, Hono } from "hono";
import { z } from "zod";
import { ErrorCode } from "../core/errors.ts";
import { invalid, issuesOf } from "../core/validate.ts";
import type { Method } from "../protocol/common.ts";
import { authenticate, authorize, type Role, type TokenTable } from "./auth.ts";
import { readJson } from "./body.ts";
import { HttpError } from "./errors.ts";

export type { Method };

/** The route pattern a request matched, kept for metrics labels. */
export type AppEnv = { Variables: { route: string } };

export interface Input<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  role: Role;
}

export interface RouteSpec<P = unknown, Q = unknown, B = unknown> {
  method: Method;
  path: string;
  /** null: public (health, OpenAPI). */
  role: Role | null;
  summary: string;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /**
   * The success body's schema (the endpoint's), documented for every 2xx that names none of its
   * own.
   */
  response?: z.ZodType;
  /**
   * A shortcut for the body's most common shape: returns the value `body` would parse it to, or
   * undefined to let `body` decide (every other shape, and every error, comes from the schema).
   */
  quickBody?: (raw: unknown) => B | undefined;
  /** The body may be left out entirely. */
  bodyOptional?: boolean;
  /** "log": the raw log endpoints, whose batches and snapshots may be larger. Default "api". */
  bodyLimit?: "api" | "log";
  /** Request headers the route reads, for the docs. */
  headers?: { name: string; description: string }[];
  produces?: "application/json" | "application/x-ndjson" | "text/event-stream" | "text/plain";
  responses: Record<number, { description: string; schema?: z.ZodType }>;
  handle(c: Context<AppEnv>, input: Input<P, Q, B>): Response | Promise<Response>;
}

/** Keeps the handler's input typed from the schemas. */
export function route<P = Record<string, never>, Q = Record<string, never>, B = undefined>(
  spec: RouteSpec<P, Q, B>,
): RouteSpec {
  return spec as unknown as RouteSpec;
}

export interface MountOptions {
  tokens: TokenTable;
  bodyLimit: number;
  logBodyLimit: number;
}

/**
 * Path parameters remembered per route once valid (a worker sends the same stage and run id again
 * and again).
 */
const PARAMS_KEPT = 1000;

/**
 * A route's checks outside any framework, in the order every request meets them: who is asking
 * (401/403), the path parameters, the parsed body. `mount` runs them for Hono; the Node server's
 * hot path (hot-updates.ts) runs the same ones, so both refuse alike.
 */
export interface RouteChecks {
  readonly spec: RouteSpec;
  /** The caller's role, authenticated and authorized for the route. */
  role(authorization: string | null): Role;
  /** Path parameters as the route's schema reads them (remembered once valid). */
  params(raw: Record<string, string>): unknown;
  /** The most body bytes the route takes (the API's limit, or the log endpoints'). */
  readonly bodyLimit: number;
  /** A parsed JSON body as the route's schema reads it (its quick shape first). */
  body(raw: unknown): unknown;
}

export function routeChecks(spec: RouteSpec, o: MountOptions): RouteChecks {
  const validParams = new Map<string, unknown>();
  return {
    spec,
    role(authorization) {
      if (spec.role === null) return "admin";
      const role = authenticate(o.tokens, authorization, spec.role);
      authorize(role, spec.role);
      return role;
    },
    params: (raw) => spec.params ? cachedParams(spec.params, raw, validParams) : {},
    bodyLimit: spec.bodyLimit === "log" ? o.logBodyLimit : o.bodyLimit,
    body: (raw) => spec.quickBody?.(raw) ?? check(spec.body!, raw, "body"),
  };
}

/** Mounts `spec` on `app`; returns its checks. */
export function mount(app: Hono<AppEnv>, spec: RouteSpec, o: MountOptions): RouteChecks {
  const checks = routeChecks(spec, o);
  // Routes without a query schema see none; those with one, the empty query when the URL has no
  // "?" (checked once: it is the same every time).
  let emptyQuery: unknown;
  app.on(spec.method, spec.path, async (c) => {
    c.set("route", spec.path);
    const role = checks.role(c.req.header("authorization") ?? null);
    const params = checks.params(c.req.param());
    const query = !spec.query
      ? {}
      : c.req.raw.url.includes("?")
      ? check(spec.query, singleQuery(c.req.queries()), "query")
      : (emptyQuery ??= Object.freeze(check(spec.query, {}, "query")));
    let body: unknown;
    if (spec.body) {
      const raw = await readJson(c.req.raw, checks.bodyLimit, spec.bodyOptional);
      body = raw === undefined ? undefined : checks.body(raw);
    }
    return spec.handle(c, { params, query, body, role });
  });
  return checks;
}

/**
 * `check` for path parameters, its successes kept: strings in, so the same strings get the same
 * verdict. Keyed by each name and value with its length, so no two different sets share a key.
 */
function cachedParams(
  schema: z.ZodType,
  raw: Record<string, string>,
  kept: Map<string, unknown>,
): unknown {
  let key = "";
  for (const k in raw) key += `${k.length}:${k}${raw[k]!.length}:${raw[k]}`;
  const hit = kept.get(key);
  if (hit !== undefined) return hit;
  const params = check(schema, raw, "path");
  if (kept.size >= PARAMS_KEPT) kept.clear();
  kept.set(key, Object.freeze(params));
  return params;
}

function singleQuery(q: Record<string, string[]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(q)) {
    if (v.length !== 1) {
      throw new HttpError(
        ErrorCode.INVALID,
        `Query parameter "${k}" is given ${v.length} times; give it once.`,
        { issues: [{ path: ["query", k], message: "repeated" }] },
      );
    }
    out[k] = v[0]!;
  }
  return out;
}

/** Parses `value` with `schema` or throws a 400 listing every problem with its path. */
export function check<T>(
  schema: z.ZodType<T>,
  value: unknown,
  where: "path" | "query" | "body",
): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw invalid(
    `Invalid request ${where}`,
    issuesOf(r.error).map((i) => ({ ...i, path: [where, ...i.path] })),
  );
}
