/**
 * Live updates as Server-Sent Events. Fed by the guarded log, which sees every append the sidecar
 * makes or accepts, rather than by Stage.watch(): that one polls the log and folds what it finds
 * into the same writer a held run commits through, and it would lag. Each event is a message with
 * `id: <revision>`; after each batch an `event: state` message carries the stage's summary.
 * Reconnecting with Last-Event-ID (or `?from=`) replays what was missed first.
 */
import type { StageState } from "../core/state.ts";
import type { ServerContext } from "./context.ts";
import { errorResponse, HttpCode, HttpError } from "./errors.ts";
import type { Notice } from "./guarded-log.ts";
import { summarize } from "./summary.ts";
import { systemClock } from "../core/clock.ts";

export function watchResponse(ctx: ServerContext, stage: string, from: number | undefined, signal: AbortSignal): Response {
  if (ctx.watchers.size >= ctx.limits.maxWatchers) {
    throw new HttpError(HttpCode.BUSY, `${ctx.limits.maxWatchers} live-update streams are open already; try again later.`, { headers: { "retry-after": "5" } });
  }
  const enc = new TextEncoder();
  const staleAfter = ctx.store.staleAfterMs;
  let lastSent = -1;
  let ctrl!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  let backlogDone = false;
  const held: Notice[] = [];

  const send = (text: string) => {
    if (!closed) ctrl.enqueue(enc.encode(text));
  };
  const sendState = (state: Readonly<StageState>) => send(`event: state\ndata: ${JSON.stringify(summarize(state, Date.now(), staleAfter))}\n\n`);
  const deliver = (n: Notice) => {
    if (n.type === "deleted") {
      send(`event: deleted\ndata: ${JSON.stringify({ stage })}\n\n`);
      close();
      return;
    }
    let any = false;
    for (const { revision, event } of n.events) {
      if (revision <= lastSent) continue;
      lastSent = revision;
      any = true;
      send(`id: ${revision}\ndata: ${JSON.stringify({ revision, event })}\n\n`);
    }
    if (any) sendState(n.state);
  };

  const off = ctx.log.subscribe(stage, (n) => (backlogDone ? deliver(n) : held.push(n)));
  const ping = systemClock.setInterval(() => send(": ping\n\n"), ctx.limits.heartbeatMs);
  const close = () => {
    if (closed) return;
    closed = true;
    off();
    systemClock.clear(ping);
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
      send(`retry: 2000\n\n`);
      void (async () => {
        try {
          if (from !== undefined) {
            let last: Readonly<StageState> | undefined;
            for await (const { revision, event, state } of ctx.store.stage(stage).replay({ from })) {
              if (closed) return;
              lastSent = revision;
              last = state;
              send(`id: ${revision}\ndata: ${JSON.stringify({ revision, event })}\n\n`);
            }
            if (last) sendState(last);
          } else {
            const p = await ctx.log.projection(stage);
            if (p) {
              lastSent = p.state.revision;
              sendState(p.state);
            }
          }
        } catch (err) {
          send(`event: error\ndata: ${JSON.stringify(errorResponse(err).body)}\n\n`);
          close();
          return;
        }
        backlogDone = true;
        for (const n of held.splice(0)) deliver(n);
      })();
    },
    cancel: close,
  });
  return new Response(body, {
    status: 200,
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no" },
  });
}
