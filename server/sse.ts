/**
 * One Server-Sent Events stream of the sidecar, whatever it carries (one stage's events in
 * watch.ts, every stage's summary in live.ts): the limit on open streams, the keep-alive ping, the
 * reconnect delay, and one close for every way a stream ends (the client leaves, the server shuts
 * down, an error).
 */
import type { ServerContext } from "./context.ts";
import { HttpCode, HttpError } from "./errors.ts";

export interface Sse {
  /** Sends raw SSE text; a client that went away between two writes closes the stream. */
  write(text: string): void;
  close(): void;
  readonly closed: boolean;
}

export interface SseHooks {
  /** Runs once the stream is open: send the backlog, then go live. */
  begin(): void;
  /** Runs once when the stream closes: unsubscribe, clear timers. */
  end(): void;
}

/**
 * Builds the stream; `setup` subscribes to what it sends (before the backlog is read, so nothing
 * falls between).
 */
export function sseResponse(
  ctx: ServerContext,
  signal: AbortSignal,
  setup: (sse: Sse) => SseHooks,
): Response {
  if (ctx.watchers.size >= ctx.limits.maxWatchers) {
    throw new HttpError(
      HttpCode.BUSY,
      `${ctx.limits.maxWatchers} live-update streams are open already; try again later.`,
      { headers: { "retry-after": "5" } },
    );
  }
  const enc = new TextEncoder();
  let ctrl!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  const sse: Sse = {
    write(text) {
      if (closed) return;
      try {
        ctrl.enqueue(enc.encode(text));
      } catch {
        close();
      }
    },
    close: () => close(),
    get closed() {
      return closed;
    },
  };
  const hooks = setup(sse);
  const ping = ctx.clock.setInterval(() => sse.write(": ping\n\n"), ctx.limits.heartbeatMs);
  function close(): void {
    if (closed) return;
    closed = true;
    hooks.end();
    ctx.clock.clear(ping);
    ctx.watchers.delete(close);
    signal.removeEventListener("abort", close);
    try {
      ctrl.close();
    } catch {
      // already closed by the client
    }
  }
  ctx.watchers.add(close);
  signal.addEventListener("abort", close);

  const body = new ReadableStream<Uint8Array>({
    start(c) {
      ctrl = c;
      sse.write("retry: 2000\n\n");
      hooks.begin();
    },
    cancel: close,
  });
  return new Response(body, {
    status: 200,
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "x-accel-buffering": "no",
    },
  });
}
