/**
 * The EventLog over a ckpt-server sidecar, so many worker processes share one store: each worker's
 * own Store checks and group-commits as usual, one HTTP request carries a whole batch, and an
 * append resolves only once the sidecar's log acknowledged it (durable when that log is).
 * It says `multiProcess`, so core expects conflicts, rebases item batches and uses run leases.
 */
import type { z } from "zod";
import { CkptError, ErrorCode, isCkptError } from "../core/errors.ts";
import type { CkptEvent } from "../core/events.ts";
import type {
  AppendOptions,
  EventLog,
  ExpectedRevision,
  MaintenanceOptions,
  ReadOptions,
  RecordedEvent,
  Snapshot,
  Supports,
} from "../core/log.ts";
import { redactUrl } from "../core/redact.ts";
import { retry } from "../core/retry.ts";
import { issuesOf } from "../core/validate.ts";
import { type Endpoint, ErrorResponse, pathOf, queryOf } from "../protocol/common.ts";
import { Log } from "../protocol/log.ts";
import { DEFAULT_RETRY_FOR_MS, failureKind, landed } from "./http-retry.ts";

export interface HttpLogOptions {
  /** The sidecar's base URL, e.g. `http://127.0.0.1:7410`. */
  url: string;
  /** A bearer token with the write role (read is enough for read-only use). */
  token?: string;
  /** A fetch to use instead of the global one (tests, proxies, custom agents). */
  fetch?: typeof fetch;
  /**
   * What the sidecar's log supports. `connectHttpLog` asks the sidecar; otherwise conservative
   * defaults.
   */
  supports?: Partial<Supports>;
  /**
   * How long to keep retrying while the sidecar is unreachable, drops connections, is restarting
   * (503) or busy (429): backoff with jitter up to 2 s between tries. Default 60 s, enough for a
   * restart.
   */
  retryForMs?: number;
  /** Time limit for one request (reads that stream are not limited). Default 60 s. */
  timeoutMs?: number;
  /**
   * Largest request body the sidecar takes (bytes); bigger batches are refused here with a clear
   * message.
   */
  maxBodyBytes?: number;
}

const CONSERVATIVE: Supports = {
  durable: false,
  multiProcess: true,
  atomicSnapshot: false,
  reclaimsSpace: false,
};
const CODES = new Set<string>(Object.values(ErrorCode));

/**
 * What a request to endpoint `E` carries, typed from the protocol's schemas (their input side:
 * query values are strings).
 */
interface Call<E extends Endpoint> {
  params?: Record<string, string>;
  query?: E["query"] extends z.ZodType ? z.input<E["query"]> : never;
  body?: E["body"] extends z.ZodType ? z.input<E["body"]> : never;
  headers?: Record<string, string>;
  streaming?: boolean;
  /**
   * After a connection dropped with the request possibly delivered: "resend" (idempotent; the
   * default for every method but POST), "fail", or a check that answers for the request when it had
   * landed.
   */
  uncertain?: "resend" | "fail" | (() => Promise<Response | undefined>);
}

type Answer<E extends Endpoint> = E["response"] extends z.ZodType ? z.output<E["response"]> : never;

interface Client {
  readonly location: string;
  closed: boolean;
  request<E extends Endpoint>(e: E, call?: Call<E>): Promise<Response>;
  /**
   * The success body parsed with the endpoint's response schema (CKPT_IO when it does not match),
   * or the error it carries.
   */
  json<E extends Endpoint>(e: E, res: Response): Promise<Answer<E>>;
  none(res: Response): Promise<void>;
  /** `undefined` for a 404 about a missing stream or snapshot; the parsed body otherwise. */
  maybe<E extends Endpoint>(e: E, res: Response): Promise<Answer<E> | undefined>;
}

/**
 * A try that got no answer worth returning, for the retry loop to judge: why, and the busy answer
 * if there was one.
 */
class Miss extends Error {
  constructor(
    readonly kind: "refused" | "uncertain" | "fatal" | "busy",
    override readonly cause?: unknown,
    readonly res?: Response,
  ) {
    super(kind);
  }
}

function client(options: HttpLogOptions): Client {
  const base = parseBase(options.url);
  const location = base.origin + base.pathname.replace(/\/$/, "");
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const retryForMs = options.retryForMs ?? DEFAULT_RETRY_FOR_MS;
  const timeoutMs = options.timeoutMs ?? 60_000;

  const c: Client = {
    location,
    closed: false,

    async request(e, call = {}) {
      if (c.closed) {
        throw new CkptError(
          ErrorCode.CLOSED,
          `The connection to the sidecar at ${location} is closed.`,
        );
      }
      const url = location + pathOf(e, call.params) +
        queryOf(call.query as Record<string, string | undefined> | undefined);
      const headers: Record<string, string> = {
        accept: "application/json, application/x-ndjson",
        ...call.headers,
      };
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      let body: string | undefined;
      if (call.body !== undefined) {
        body = JSON.stringify(call.body);
        headers["content-type"] = "application/json";
        const max = options.maxBodyBytes;
        if (max !== undefined && body.length > max && new TextEncoder().encode(body).length > max) {
          throw new CkptError(
            ErrorCode.INVALID,
            `A request of ${
              body.length.toLocaleString("en-US")
            } bytes is over the sidecar's limit of ${
              max.toLocaleString("en-US")
            }; lower the store's maxBatch or raise --log-body-limit.`,
          );
        }
      }
      const onUncertain = call.uncertain ?? (e.method === "POST" ? "fail" : "resend");
      let check: (() => Promise<Response | undefined>) | undefined;
      try {
        return await retry(
          async () => {
            // The last try's connection dropped with the request possibly delivered: ask whether it
            // landed before sending it again.
            if (check) {
              const answer = await check();
              check = undefined;
              if (answer) return answer;
            }
            let res: Response;
            try {
              res = await doFetch(url, {
                method: e.method,
                headers,
                ...(body === undefined ? {} : { body }),
                ...(call.streaming ? {} : { signal: AbortSignal.timeout(timeoutMs) }),
              });
            } catch (err) {
              const kind = failureKind(err);
              if (kind === "uncertain" && typeof onUncertain === "function") check = onUncertain;
              throw new Miss(kind, err);
            }
            // 429 and 503 are answered before anything is written, so retrying cannot write twice.
            if (res.status === 429 || res.status === 503) throw new Miss("busy", undefined, res);
            return res;
          },
          {
            forMs: retryForMs,
            // Refused means the request never reached the sidecar, so even an append is safe to
            // send again; a dropped connection may have delivered it, so only what is safe to
            // repeat is repeated.
            retryable: (err) =>
              err instanceof Miss && !c.closed &&
              (err.kind === "refused" || err.kind === "busy" ||
                (err.kind === "uncertain" && onUncertain !== "fail")),
            delay: (err) => (err instanceof Miss && err.res ? retryAfterMs(err.res) : undefined),
            onRetry: async (err) => {
              if (err instanceof Miss) await err.res?.body?.cancel().catch(() => undefined);
            },
          },
        );
      } catch (err) {
        if (!(err instanceof Miss)) throw err;
        // Still busy when the budget ran out: the caller reports the sidecar's own answer.
        if (err.res) return err.res;
        throw new CkptError(
          ErrorCode.UNAVAILABLE,
          `Cannot reach the ckpt sidecar at ${location}: ${
            describe(err.cause)
          }. Is \`npx ckpt-server\` running there?`,
          { cause: err.cause },
        );
      }
    },

    async json(e, res) {
      if (!res.ok) throw await errorOf(res, location);
      const text = await res.text();
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw new CkptError(
          ErrorCode.IO,
          `The sidecar at ${location} answered ${e.method} ${e.path} with a body that is not JSON: ${
            text.slice(0, 80)
          }`,
          { details: { route: `${e.method} ${e.path}` } },
        );
      }
      return parseAnswer(e, value, location);
    },

    async none(res) {
      if (!res.ok) throw await errorOf(res, location);
      await res.body?.cancel().catch(() => undefined);
    },

    async maybe(e, res) {
      if (res.status === 404) {
        const err = await errorOf(res, location);
        if (err.code === ErrorCode.NOT_FOUND && err.details?.stream !== undefined) return undefined;
        throw err;
      }
      return c.json(e, res);
    },
  };
  return c;
}

/**
 * `value` as the endpoint's response schema reads it, or CKPT_IO naming the route: the two sides no
 * longer speak the same protocol.
 */
function parseAnswer<E extends Endpoint>(e: E, value: unknown, location: string): Answer<E> {
  if (!e.response) return undefined as Answer<E>;
  const r = e.response.safeParse(value);
  if (r.success) return r.data as Answer<E>;
  const issues = issuesOf(r.error);
  const first = issues[0]!;
  const field = first.path.length > 0 ? `${first.path.join(".")}: ` : "";
  throw new CkptError(
    ErrorCode.IO,
    `The sidecar at ${location} answered ${e.method} ${e.path} with a body this client does not understand (${field}${first.message}); are the sidecar and this ckpt the same version?`,
    {
      issues,
      details: { route: `${e.method} ${e.path}` },
    },
  );
}

/**
 * A busy sidecar's Retry-After, capped at 2 s and jittered so its clients do not come back
 * together; undefined: the backoff.
 */
function retryAfterMs(res: Response): number | undefined {
  const after = Number(res.headers.get("retry-after"));
  return Number.isFinite(after) && after > 0
    ? Math.min(after * 1000, 2000) * (0.5 + Math.random() / 2)
    : undefined;
}

/**
 * An EventLog over the sidecar with the given (or conservative) `supports`; `connectHttpLog` asks
 * the sidecar instead.
 * @example const store = new Store(httpLog({ url: "http://127.0.0.1:7410", token: process.env.CKPT_TOKEN }))
 */
export function httpLog(options: HttpLogOptions): EventLog {
  const c = client(options);
  const { location } = c;
  const supports: Supports = { ...CONSERVATIVE, ...options.supports, multiProcess: true };

  /**
   * A forward read cut off by a dropped connection carries on after the last event it delivered:
   * each batch is one retry() of "the next batch, from the open answer or from a new request".
   */
  async function* events(stream: string, o: ReadOptions): AsyncGenerator<RecordedEvent[]> {
    const forward = o.direction === undefined || o.direction === "forward";
    let from = o.from;
    let left = o.limit;
    let batches: AsyncGenerator<RecordedEvent[]> | undefined;
    const next = async (): Promise<IteratorResult<RecordedEvent[]>> => {
      if (!batches) {
        const query = {
          ...(from === undefined ? {} : { from: String(Math.max(0, from)) }),
          ...(o.direction === undefined ? {} : { direction: o.direction }),
          ...(left === undefined ? {} : { limit: String(Math.max(0, left)) }),
        };
        const res = await c.request(Log.read, { params: { stream }, query, streaming: true });
        if (!res.ok) throw await errorOf(res, location);
        batches = ndjsonBatches(res, location);
      }
      try {
        return await batches.next();
      } catch (err) {
        batches = undefined;
        throw err;
      }
    };
    // A backward read cannot carry on (it counts down from a head that may have moved); a ckpt
    // error is an answer.
    const resumable = (err: unknown) =>
      forward && !isCkptError(err) && failureKind(err) !== "fatal";
    const allRead = () => left !== undefined && left <= 0;
    try {
      for (;;) {
        let r: IteratorResult<RecordedEvent[]>;
        try {
          r = await retry(next, {
            forMs: options.retryForMs ?? DEFAULT_RETRY_FOR_MS,
            retryable: (err) => resumable(err) && !allRead() && !c.closed,
          });
        } catch (err) {
          if (resumable(err) && allRead()) return;
          throw isCkptError(err) ? err : new CkptError(
            ErrorCode.UNAVAILABLE,
            `Reading from the sidecar at ${location} failed: ${describe(err)}.`,
            { cause: err },
          );
        }
        if (r.done) return;
        const batch = r.value;
        if (batch.length > 0) {
          from = batch[batch.length - 1]!.revision + 1;
          if (left !== undefined) left -= batch.length;
        }
        yield batch;
      }
    } finally {
      await batches?.return(undefined);
    }
  }

  return {
    supports,
    location,

    async append(stream: string, evs: readonly CkptEvent[], o: AppendOptions) {
      const headers: Record<string, string> = {};
      if (typeof o.expectedRevision === "number") headers["if-match"] = `"${o.expectedRevision}"`;
      else if (o.expectedRevision === "no_stream") headers["if-none-match"] = "*";
      // Only serialised, never changed: no copy of a batch that can hold 20,000 events.
      const batch = evs as CkptEvent[];
      const body: z.input<typeof Log.append.body> = o.snapshot
        ? { events: batch, snapshot: o.snapshot }
        : { events: batch };
      const first = typeof o.expectedRevision === "number"
        ? o.expectedRevision + 1
        : o.expectedRevision === "no_stream"
        ? 0
        : undefined;
      // The answer was lost with the connection: the events at the revisions this append expected
      // to fill say whether it landed, so a restart neither loses it nor writes it twice.
      const check = async (): Promise<Response | undefined> => {
        const stored: RecordedEvent[] = [];
        for await (const batch of events(stream, { from: first!, limit: evs.length })) {
          stored.push(...batch);
        }
        if (!landed(evs, stored, first!)) return undefined;
        const head = first! + evs.length - 1;
        return new Response(JSON.stringify({ head }), {
          status: 200,
          headers: { "content-type": "application/json" },
        });
      };
      return c.json(
        Log.append,
        await c.request(Log.append, {
          params: { stream },
          body,
          headers,
          uncertain: first === undefined ? "fail" : check,
        }),
      );
    },

    async *read(stream: string, o: ReadOptions = {}) {
      for await (const batch of events(stream, o)) yield* batch;
    },

    readBatches(stream: string, o: { from?: number } = {}) {
      return events(stream, o.from === undefined ? {} : { from: o.from });
    },

    async streams(o: { prefix?: string } = {}) {
      return (await c.json(
        Log.streams,
        await c.request(Log.streams, { query: o.prefix ? { prefix: o.prefix } : {} }),
      )).streams;
    },

    async info(stream: string) {
      return c.maybe(Log.stream, await c.request(Log.stream, { params: { stream } }));
    },

    async saveSnapshot(stream: string, snapshot: Snapshot) {
      await c.none(await c.request(Log.saveSnapshot, { params: { stream }, body: snapshot }));
    },

    async loadSnapshot(stream: string, which: "latest" | "base" = "latest") {
      return c.maybe(
        Log.loadSnapshot,
        await c.request(Log.loadSnapshot, { params: { stream }, query: { which } }),
      );
    },

    async truncateBefore(
      stream: string,
      revision: number,
      base: Snapshot,
      o: MaintenanceOptions = {},
    ) {
      await c.none(
        await c.request(Log.truncate, {
          params: { stream },
          body: { revision, base },
          headers: expectHeaders(o.expectedRevision),
        }),
      );
    },

    async delete(stream: string, o: MaintenanceOptions = {}) {
      await c.none(
        await c.request(Log.delete, {
          params: { stream },
          headers: expectHeaders(o.expectedRevision),
        }),
      );
    },

    async close() {
      c.closed = true;
    },
  };
}

/**
 * Asks the sidecar what its log supports (and checks the URL and token) before returning the log.
 * @example const store = new Store(await connectHttpLog({ url, token }), { platform })
 */
export async function connectHttpLog(options: HttpLogOptions): Promise<EventLog> {
  const c = client(options);
  const info = await c.json(Log.info, await c.request(Log.info));
  return httpLog({
    ...options,
    supports: { ...info.supports, ...options.supports },
    ...(options.maxBodyBytes === undefined && info.limits.logBodyLimit
      ? { maxBodyBytes: info.limits.logBodyLimit }
      : {}),
  });
}

/**
 * NDJSON lines, a network chunk at a time; a `{"error":…}` line (a failure mid-stream) becomes a
 * throw.
 */
async function* ndjsonBatches(res: Response, location: string): AsyncGenerator<RecordedEvent[]> {
  if (!res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  let finished = false;
  /**
   * The events on these lines; an error line ends them (what came before it is still delivered).
   */
  const parse = (lines: string[]): { batch: RecordedEvent[]; error?: CkptError } => {
    const batch: RecordedEvent[] = [];
    for (const line of lines) {
      if (line === "") continue;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        return {
          batch,
          error: new CkptError(
            ErrorCode.IO,
            `The sidecar at ${location} sent a line that is not JSON: ${line.slice(0, 80)}`,
          ),
        };
      }
      const failed = (v as { error?: unknown } | null)?.error !== undefined
        ? ErrorResponse.safeParse(v)
        : undefined;
      if (failed?.success) return { batch, error: toCkptError(failed.data.error, 500, location) };
      try {
        batch.push(parseAnswer(Log.read, v, location));
      } catch (err) {
        return { batch, error: err as CkptError };
      }
    }
    return { batch };
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      const last = done ? buf : undefined;
      if (!done) buf += value;
      const cut = done ? buf.length : buf.lastIndexOf("\n");
      if (cut < 0) continue;
      const { batch, error } = parse((last ?? buf.slice(0, cut)).split("\n"));
      buf = done ? "" : buf.slice(cut + 1);
      if (batch.length > 0) yield batch;
      if (error) throw error;
      if (done) break;
    }
    finished = true;
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
  }
}

async function errorOf(res: Response, location: string): Promise<CkptError> {
  let body: ErrorResponse | undefined;
  try {
    const r = ErrorResponse.safeParse(await res.json());
    body = r.success ? r.data : undefined;
  } catch {
    body = undefined;
  }
  if (!body) {
    return new CkptError(
      res.status >= 500 ? ErrorCode.IO : ErrorCode.UNAVAILABLE,
      `The sidecar at ${location} answered ${res.status} ${res.statusText} without a ckpt error; is the URL right?`,
      {
        details: { status: res.status },
      },
    );
  }
  return toCkptError(body.error, res.status, location);
}

/**
 * The sidecar's code when core knows it; its own codes (CKPT_UNAUTHORIZED, CKPT_FORBIDDEN, …) are
 * passed through as they are.
 */
function toCkptError(e: ErrorResponse["error"], status: number, location: string): CkptError {
  const code = e.code.startsWith("CKPT_")
    ? e.code
    : status >= 500
    ? ErrorCode.IO
    : ErrorCode.INVALID;
  const message = `${e.message}${CODES.has(code) ? "" : ` (sidecar at ${location})`}`;
  return new CkptError(code as ErrorCode, message, {
    ...(e.issues ? { issues: e.issues } : {}),
    details: { ...e.details, status },
  });
}

function parseBase(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new CkptError(
      ErrorCode.INVALID,
      `The sidecar URL ${
        JSON.stringify(redactUrl(url))
      } is not a URL; use e.g. http://127.0.0.1:7410.`,
    );
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new CkptError(
      ErrorCode.INVALID,
      `The sidecar URL must be http:// or https://, got ${u.protocol}`,
    );
  }
  // The base requests go to and messages name: fetch refuses credentials in a URL (the token goes
  // in a header) and paths are appended to it. The URL as given is printed only through redactUrl.
  u.username = "";
  u.password = "";
  u.search = "";
  u.hash = "";
  return u;
}

function describe(err: unknown): string {
  const e = err as { cause?: { code?: string; message?: string }; message?: string };
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}

/**
 * The expected revision as the sidecar reads it: If-Match: "41", If-None-Match: *, or nothing for
 * "any".
 */
function expectHeaders(expected: ExpectedRevision | undefined): Record<string, string> {
  if (typeof expected === "number") return { "if-match": `"${expected}"` };
  return expected === "no_stream" ? { "if-none-match": "*" } : {};
}
