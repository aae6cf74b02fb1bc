/**
 * The raw EventLog over HTTP (/v1/log): what adapters/http.ts needs so a worker's own Store can
 * use the sidecar as its log. Every write goes through the guarded log, so a worker's batch is
 * checked against the stage's true state before it is written.
 */
import type { Context } from "hono";
import { CkptError, ErrorCode } from "../../core/errors.ts";
import type { ExpectedRevision } from "../../core/log.ts";
import type { ServerContext } from "../context.ts";
import { HttpError } from "../errors.ts";
import { ndjson } from "../ndjson.ts";
import { route, type RouteSpec } from "../route.ts";
import { ErrorResponse } from "../../protocol/common.ts";
import { Log } from "../../protocol/log.ts";

const err = (description: string) => ({ description, schema: ErrorResponse });

export function logRoutes(ctx: ServerContext): RouteSpec[] {
  const log = ctx.log;
  return [
    route({
      ...Log.info,
      role: "read",
      summary: "What the sidecar's log supports and the body limits, for HTTP adapters",
      responses: { 200: { description: "log information" } },
      handle: (c) =>
        c.json({
          supports: log.supports,
          limits: { bodyLimit: ctx.limits.bodyLimit, logBodyLimit: ctx.limits.logBodyLimit },
          server: `ckpt-server ${ctx.version}`,
        }),
    }),
    route({
      ...Log.streams,
      role: "read",
      summary: "Streams (stages) that exist, with head revision and last update time",
      responses: { 200: { description: "streams sorted by name" } },
      handle: async (c, { query }) =>
        c.json({
          streams: await log.streams(query.prefix === undefined ? {} : { prefix: query.prefix }),
        }),
    }),
    route({
      ...Log.stream,
      role: "read",
      summary: "One stream's head information",
      responses: { 200: { description: "head information" }, 404: err("no such stream") },
      handle: async (c, { params }) => {
        const info = await log.info(params.stream);
        if (!info) throw notFound(params.stream);
        return c.json(info, 200, { etag: `"${info.head}"` });
      },
    }),
    route({
      ...Log.read,
      role: "read",
      summary:
        "A stream's events as NDJSON ({revision, event} per line); a missing stream has none",
      produces: "application/x-ndjson",
      responses: { 200: { description: "one recorded event per line" } },
      handle: (_c, { params, query }) => ndjson(log.read(params.stream, query)),
    }),
    route({
      ...Log.append,
      role: "write",
      summary:
        'Appends events atomically. If-Match: "<revision>" expects that head; If-None-Match: * expects no stream; neither: any',
      bodyLimit: "log",
      headers: [
        { name: "If-Match", description: 'the head revision the writer expects, e.g. "41"' },
        { name: "If-None-Match", description: "* when the writer expects the stream not to exist" },
      ],
      responses: {
        200: { description: "the new head (durable when the server's log is)" },
        400: err("invalid events, or events not allowed in the stage's status"),
        409: err(
          "CKPT_CONFLICT: the head is not the expected one; CKPT_BAD_TRANSITION: an event is not allowed now",
        ),
      },
      handle: async (c, { params, body }) => {
        const expectedRevision = expectedFrom(c);
        const r = await log.append(params.stream, body.events, {
          expectedRevision,
          ...(body.snapshot ? { snapshot: body.snapshot } : {}),
        });
        return c.json({ head: r.head }, 200, { etag: `"${r.head}"` });
      },
    }),
    route({
      ...Log.loadSnapshot,
      role: "read",
      summary: "The stream's latest (or base) snapshot",
      responses: { 200: { description: "the snapshot" }, 404: err("no snapshot") },
      handle: async (c, { params, query }) => {
        const s = await log.loadSnapshot(params.stream, query.which ?? "latest");
        if (!s) {
          throw new CkptError(
            ErrorCode.NOT_FOUND,
            `Stream "${params.stream}" has no ${query.which ?? "latest"} snapshot.`,
            { details: { stream: params.stream } },
          );
        }
        return c.json(s);
      },
    }),
    route({
      ...Log.saveSnapshot,
      role: "write",
      summary: "Saves a snapshot (ignored when older than the stored one or ahead of the head)",
      bodyLimit: "log",
      responses: { 204: { description: "saved or ignored" } },
      handle: async (c, { params, body }) => {
        await log.saveSnapshot(params.stream, body);
        return c.body(null, 204);
      },
    }),
    route({
      ...Log.truncate,
      role: "admin",
      summary: "Removes events before a revision, keeping the state as the base snapshot",
      bodyLimit: "log",
      headers: [
        {
          name: "If-Match",
          description:
            'only if the head is still this revision, e.g. "41" (else 409 CKPT_CONFLICT, nothing removed)',
        },
      ],
      responses: {
        204: { description: "truncated" },
        409: err("CKPT_CONFLICT: the head is not the expected one"),
      },
      handle: async (c, { params, body }) => {
        await log.truncateBefore(params.stream, body.revision, body.base, {
          expectedRevision: expectedFrom(c),
        });
        return c.body(null, 204);
      },
    }),
    route({
      ...Log.delete,
      role: "admin",
      summary: "Removes the stream, its snapshots and head",
      headers: [
        {
          name: "If-Match",
          description:
            'only if the head is still this revision, e.g. "41" (else 409 CKPT_CONFLICT, nothing removed)',
        },
      ],
      responses: {
        204: { description: "deleted (or did not exist)" },
        409: err(
          "CKPT_LOCKED: the sidecar holds a live run on it; CKPT_CONFLICT: the head is not the expected one",
        ),
      },
      handle: async (c, { params }) => {
        const expectedRevision = expectedFrom(c);
        // Through the store, so its writer for this stage is dropped with the stream.
        await ctx.runs.withStage(
          params.stream,
          () => ctx.store.stage(params.stream).delete({ expectedRevision }),
        );
        return c.body(null, 204);
      },
    }),
  ];
}

/** If-Match: "41" → 41; If-None-Match: * → "no_stream"; neither → "any". */
function expectedFrom(c: Context): ExpectedRevision {
  const match = c.req.header("if-match");
  const noneMatch = c.req.header("if-none-match");
  if (match !== undefined && noneMatch !== undefined) {
    throw new HttpError(ErrorCode.INVALID, "Send If-Match or If-None-Match, not both.");
  }
  if (noneMatch !== undefined) {
    if (noneMatch.trim() !== "*") {
      throw new HttpError(
        ErrorCode.INVALID,
        'If-None-Match on an append must be "*" (expect no stream).',
      );
    }
    return "no_stream";
  }
  if (match === undefined) return "any";
  const m = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(match);
  if (!m) {
    throw new HttpError(
      ErrorCode.INVALID,
      `If-Match must be the expected head revision, like "41" (got ${JSON.stringify(match)}).`,
    );
  }
  return Number(m[1]);
}

function notFound(stream: string): CkptError {
  return new CkptError(ErrorCode.NOT_FOUND, `Stream "${stream}" does not exist.`, {
    details: { stream },
  });
}
