/**
 * The OpenAPI 3.1 document, generated from the same route objects and protocol/ zod schemas that
 * validate requests and that the HTTP adapter parses answers with.
 */
import { z } from "zod";
import type { RouteSpec } from "./route.ts";

type Json = Record<string, unknown>;

function schema(s: z.ZodType): Json {
  const out = z.toJSONSchema(s, { io: "input", unrepresentable: "any" }) as Json;
  delete out.$schema;
  return out;
}

/** Each field of a params / query object as an OpenAPI parameter. */
function parameters(s: z.ZodType | undefined, where: "path" | "query"): Json[] {
  if (!s) return [];
  const js = schema(s) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(js.properties ?? {}).map(([name, p]) => ({
    name,
    in: where,
    required: where === "path" || (js.required ?? []).includes(name),
    ...(typeof p.description === "string" ? { description: p.description } : {}),
    schema: p,
  }));
}

export function openApiDocument(routes: readonly RouteSpec[], version: string): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const r of routes) {
    const path = r.path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
    const responses: Json = {};
    for (const [status, res] of Object.entries(r.responses)) {
      const type = Number(status) >= 400 ? "application/json" : r.produces ?? "application/json";
      const body = res.schema ?? (Number(status) < 300 ? r.response : undefined);
      responses[status] = {
        description: res.description,
        ...(body ? { content: { [type]: { schema: schema(body) } } } : {}),
      };
    }
    if (r.role !== null) {
      responses["401"] ??= {
        description: "CKPT_UNAUTHORIZED: no token, or one the sidecar does not know",
      };
      responses["403"] ??= { description: `CKPT_FORBIDDEN: the token's role is below ${r.role}` };
    }
    if (r.params || r.query || r.body) {
      responses["400"] ??= {
        description: "CKPT_INVALID: the request does not match its schema; nothing was written",
      };
    }
    (paths[path] ??= {})[r.method.toLowerCase()] = {
      summary: r.summary,
      operationId: `${r.method.toLowerCase()}${
        path.replace(/[{}]/g, "").replace(/[^A-Za-z0-9]+(.)?/g, (_m, ch: string | undefined) =>
          (ch ?? "").toUpperCase())
      }`,
      "x-ckpt-role": r.role ?? "public",
      security: r.role === null ? [] : [{ bearer: [] }],
      parameters: [
        ...parameters(r.params, "path"),
        ...parameters(r.query, "query"),
        ...(r.headers ?? []).map((h) => ({
          name: h.name,
          in: "header",
          required: false,
          description: h.description,
          schema: { type: "string" },
        })),
      ],
      ...(r.body
        ? {
          requestBody: {
            required: !r.bodyOptional,
            content: { "application/json": { schema: schema(r.body) } },
          },
        }
        : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "ckpt-server",
      version,
      description:
        "Event-sourced checkpoints over HTTP. Errors are `{ error: { code, message, issues? } }` with stable CKPT_* codes. Roles: read < write < admin.",
    },
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    paths,
  };
}
