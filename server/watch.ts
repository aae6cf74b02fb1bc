/**
 * Live updates as Server-Sent Events. Fed by the guarded log, which sees every append the sidecar
 * makes or accepts, rather than by Stage.watch(): that one polls the log and folds what it finds
 * into the same writer a held run commits through, and it would lag. Each event is a message with
 * `id: <revision>`; after each batch an `event: state` message carries the stage's summary.
 * Reconnecting with Last-Event-ID (or `?from=`) replays what was missed first.
 */
import type { StageState } from "../core/state.ts";
import type { ServerContext } from "./context.ts";
import { errorResponse } from "./errors.ts";
import type { Notice } from "./guarded-log.ts";
import { sseResponse } from "./sse.ts";
import { summarize } from "./summary.ts";

export function watchResponse(
  ctx: ServerContext,
  stage: string,
  from: number | undefined,
  signal: AbortSignal,
): Response {
  const staleAfter = ctx.store.staleAfterMs;
  return sseResponse(ctx, signal, (sse) => {
    let lastSent = -1;
    let backlogDone = false;
    const held: Notice[] = [];
    const sendEvent = (revision: number, event: unknown) =>
      sse.write(`id: ${revision}\ndata: ${JSON.stringify({ revision, event })}\n\n`);
    const sendState = (state: Readonly<StageState>) =>
      sse.write(
        `event: state\ndata: ${JSON.stringify(summarize(state, ctx.clock.now(), staleAfter))}\n\n`,
      );
    const deliver = (n: Notice) => {
      if (n.type === "deleted") {
        sse.write(`event: deleted\ndata: ${JSON.stringify({ stage })}\n\n`);
        sse.close();
        return;
      }
      let any = false;
      for (const { revision, event } of n.events) {
        if (revision <= lastSent) continue;
        lastSent = revision;
        any = true;
        sendEvent(revision, event);
      }
      if (any) sendState(n.state);
    };
    const off = ctx.log.subscribe(stage, (n) => (backlogDone ? deliver(n) : held.push(n)));

    const backlog = async () => {
      try {
        if (from !== undefined) {
          let last: Readonly<StageState> | undefined;
          for await (const { revision, event, state } of ctx.store.stage(stage).replay({ from })) {
            if (sse.closed) return;
            lastSent = revision;
            last = state;
            sendEvent(revision, event);
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
        sse.write(`event: error\ndata: ${JSON.stringify(errorResponse(err).body)}\n\n`);
        sse.close();
        return;
      }
      backlogDone = true;
      for (const n of held.splice(0)) deliver(n);
    };
    return { begin: () => void backlog(), end: off };
  });
}
