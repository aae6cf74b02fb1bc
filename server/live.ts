/**
 * Every stage's summary as Server-Sent Events, for the dashboard's stages page. One stream per
 * page instead of one per stage: on connect it sends every stage (`event: stages`), which is also
 * how a reconnecting page catches up, then `event: state` for each stage that changed (coalesced:
 * at most one summary per stage per `flushMs`, however fast workers write) and `event: deleted`.
 * Fed by the guarded log's notices, like watch.ts; `id:` is the server's sequence number.
 */
import { errorResponse, HttpCode, HttpError } from "./errors.ts";
import type { ServerContext } from "./context.ts";
import { ALL_STREAMS, type Notice } from "./guarded-log.ts";
import { summarize, type Summary } from "./summary.ts";
import { systemClock } from "../core/clock.ts";

const FLUSH_MS = 200;

export function liveResponse(ctx: ServerContext, list: () => Promise<Summary[]>, signal: AbortSignal, flushMs = FLUSH_MS): Response {
  if (ctx.watchers.size >= ctx.limits.maxWatchers) {
    throw new HttpError(HttpCode.BUSY, `${ctx.limits.maxWatchers} live-update streams are open already; try again later.`, { headers: { "retry-after": "5" } });
  }
  const enc = new TextEncoder();
  const staleAfter = ctx.store.staleAfterMs;
  let ctrl!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  let ready = false;
  let seq = 0;
  /** Latest summary per changed stage (null: deleted), sent on the next flush. */
  const dirty = new Map<string, Summary | null>();
  let timer: ReturnType<typeof setTimeout> | undefined;

  const write = (text: string) => {
    if (closed) return;
    try {
      ctrl.enqueue(enc.encode(text));
    } catch {
      close(); // the client went away between two writes
    }
  };
  const send = (event: string, data: unknown) => write(`id: ${++seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const flush = () => {
    timer = undefined;
    for (const [stage, s] of dirty) s ? send("state", s) : send("deleted", { stage });
    dirty.clear();
  };
  const onNotice = (n: Notice) => {
    // Summarised now: the notice's state is only valid during this call.
    dirty.set(n.stream, n.type === "deleted" ? null : summarize(n.state, Date.now(), staleAfter));
    if (ready && !timer && !closed) timer = setTimeout(flush, flushMs);
  };
  const off = ctx.log.subscribe(ALL_STREAMS, onNotice);
  const ping = systemClock.setInterval(() => write(": ping\n\n"), ctx.limits.heartbeatMs);
  const close = () => {
    if (closed) return;
    closed = true;
    off();
    systemClock.clear(ping);
    if (timer) clearTimeout(timer);
    ctx.watchers.delete(close);
    signal.removeEventListener("abort", close);
    try {
      ctrl.close();
    } catch {
      // already closed by the client
    }
  };
  ctx.watchers.add(close);
  signal.addEventListener("abort", close);

  const body = new ReadableStream<Uint8Array>({
    start(c) {
      ctrl = c;
      write("retry: 2000\n\n");
      void (async () => {
        try {
          const all = await list();
          // Changes that landed while listing are newer than what the list holds for them: keep them for the first flush.
          // `at` and `staleAfterMs` let the page flag a stage that falls silent: silence sends no update.
          send("stages", { stages: all.map((s) => (dirty.has(s.stage) ? dirty.get(s.stage) : s)).filter((s) => s), at: Date.now(), staleAfterMs: staleAfter });
          for (const s of all) if (dirty.get(s.stage)) dirty.delete(s.stage);
        } catch (err) {
          send("error", errorResponse(err).body);
          close();
          return;
        }
        ready = true;
        if (dirty.size) timer = setTimeout(flush, flushMs);
      })();
    },
    cancel: close,
  });
  return new Response(body, {
    status: 200,
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no" },
  });
}
