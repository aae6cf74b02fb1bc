/**
 * Argument checks for every public entry: one zod schema each, and one way to fail — CKPT_INVALID
 * naming the field, thrown before anything is queued. Also the limits on user data (metadata,
 * config): plain JSON-like values only, so whatever is accepted can be cloned, encoded and
 * replayed.
 */
import { z } from "zod";
import { CkptError, ErrorCode, type Issue } from "./errors.ts";

/** What user data (metadata, config) may hold, and how big it may be. Documented in the README. */
export const DATA_LIMITS = {
  /** Nesting depth of objects and arrays. */
  depth: 32,
  /** Values in total (every object, array, string, number, …). */
  values: 10_000,
  /** Characters in one string. */
  string: 65_536,
  /** Characters in one key. */
  key: 200,
} as const;

/**
 * Why `value` is not plain data (null, booleans, finite numbers, strings, arrays, plain objects),
 * or undefined when it is. Object keys whose value is `undefined` are allowed (they are left out).
 */
export function dataProblem(value: unknown): Issue | undefined {
  let count = 0;
  const seen = new Set<object>();
  const walk = (v: unknown, path: (string | number)[], depth: number): Issue | undefined => {
    if (++count > DATA_LIMITS.values) {
      return { path, message: `more than ${DATA_LIMITS.values} values` };
    }
    switch (typeof v) {
      case "string":
        return v.length > DATA_LIMITS.string
          ? { path, message: `a string longer than ${DATA_LIMITS.string} characters` }
          : undefined;
      case "boolean":
        return undefined;
      case "number":
        return Number.isFinite(v)
          ? undefined
          : { path, message: `${v} cannot be stored (only finite numbers)` };
      case "object": {
        if (v === null) return undefined;
        if (seen.has(v)) return { path, message: "a circular reference" };
        if (depth >= DATA_LIMITS.depth) {
          return { path, message: `nested deeper than ${DATA_LIMITS.depth} levels` };
        }
        const proto = Object.getPrototypeOf(v);
        const isArray = Array.isArray(v);
        if (!isArray && proto !== Object.prototype && proto !== null) {
          return {
            path,
            message: `a ${
              (v as object).constructor?.name ?? "non-plain"
            } object (only plain objects, arrays and JSON values)`,
          };
        }
        seen.add(v);
        if (isArray) {
          for (let i = 0; i < v.length; i++) {
            const p = walk(v[i], [...path, i], depth + 1);
            if (p) return p;
          }
        } else {
          if (Object.getOwnPropertySymbols(v).length > 0) return { path, message: "symbol keys" };
          for (const k of Object.keys(v)) {
            if (k.length > DATA_LIMITS.key) {
              return {
                path: [...path, k.slice(0, 20) + "…"],
                message: `a key longer than ${DATA_LIMITS.key} characters`,
              };
            }
            const item = (v as Record<string, unknown>)[k];
            if (item === undefined) continue;
            const p = walk(item, [...path, k], depth + 1);
            if (p) return p;
          }
        }
        seen.delete(v);
        return undefined;
      }
      default:
        return { path, message: `a ${typeof v} cannot be stored` };
    }
  };
  return walk(value, [], 0);
}

/** A zod schema for plain data within DATA_LIMITS. */
export const plainData = z.unknown().superRefine((v, ctx) => {
  const p = dataProblem(v);
  if (p) ctx.addIssue({ code: "custom", path: p.path, message: p.message });
});

/** Plain data that is an object (metadata). */
export const plainObject = z
  .record(z.string(), z.unknown())
  .superRefine((v, ctx) => {
    const p = dataProblem(v);
    if (p) ctx.addIssue({ code: "custom", path: p.path, message: p.message });
  });

/**
 * Drops keys whose value is undefined, recursively, so `{ total: undefined }` never reaches an
 * event.
 */
export function withoutUndefined<T>(v: T): T {
  if (Array.isArray(v)) return v.map(withoutUndefined) as T;
  if (v === null || typeof v !== "object") return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = withoutUndefined(x);
  return out as T;
}

const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
export const schemas = {
  count,
  positive: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  label: z.string().max(2048),
};

/**
 * `value` parsed by `schema`, or CKPT_INVALID naming every bad field: `where` is the call, as the
 * user wrote it.
 * @example const o = parseArg(BeginOptions, options, "begin()")
 */
export function parseArg<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where: string,
): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw invalid(where, issuesOf(r.error));
}

/**
 * zod's issues as CkptError issues (paths with symbols made printable): the one mapping from zod.
 */
export function issuesOf(error: z.ZodError): Issue[] {
  return error.issues.map((i) => ({
    path: i.path.map((p) => (typeof p === "symbol" ? String(p) : p)),
    message: i.message,
  }));
}

/** CKPT_INVALID naming the first bad field (and how many more), with every issue attached. */
export function invalid(where: string, issues: Issue[], tail = "Nothing was written."): CkptError {
  const first = issues[0] ?? { path: [], message: "invalid" };
  const field = first.path.length > 0 ? first.path.join(".") : "the argument";
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : "";
  return new CkptError(
    ErrorCode.INVALID,
    `${where}: ${field}: ${first.message}${more}.${tail ? ` ${tail}` : ""}`,
    { issues },
  );
}
