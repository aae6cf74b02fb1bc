/**
 * Every stage's summary as Server-Sent Events, for the dashboard's stages page. One stream per
 * page instead of one per stage: on connect it sends every stage (`event: stages`), which is also
 * how a reconnecting page catches up, then `event: state` for each stage that changed (coalesced:
 * at most one summary per stage per `flushMs`, however fast workers write) and `event: deleted`.
 * Fed by the guarded log's notices, like watch.ts; `id:` is the server's sequence number.
 */
import type { ServerContext } from "./context.ts";
import { errorResponse } from "./errors.ts";
import { ALL_STREAMS, type Notice } from "./guarded-log.ts";
import { sseResponse } from "./sse.ts";
import { summarize, type Summary } from "./summary.ts";

const FLUSH_MS = 200;

export function liveResponse(
  ctx: ServerContext,
  list: () => Promise<Summary[]>,
  signal: AbortSignal,
  flushMs = FLUSH_MS,
): Response {
  const staleAfter = ctx.store.staleAfterMs;
  return sseResponse(ctx, signal, (sse) => {
    let ready = false;
    let seq = 0;
    /** Latest summary per changed stage (null: deleted), sent on the next flush. */
    const dirty = new Map<string, Summary | null>();
    let timer: unknown;

    const send = (event: string, data: unknown) =>
      sse.write(`id: ${++seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    const flush = () => {
      timer = undefined;
      for (const [stage, s] of dirty) s ? send("state", s) : send("deleted", { stage });
      dirty.clear();
    };
    const onNotice = (n: Notice) => {
      // Summarised now: the notice's state is only valid during this call.
      dirty.set(
        n.stream,
        n.type === "deleted" ? null : summarize(n.state, ctx.clock.now(), staleAfter),
      );
      if (ready && timer === undefined && !sse.closed) timer = ctx.clock.setTimeout(flush, flushMs);
    };
    const off = ctx.log.subscribe(ALL_STREAMS, onNotice);

    const first = async () => {
      try {
        const all = await list();
        // Changes that landed while listing are newer than what the list holds for them: keep them
        // for the first flush. `at` and `staleAfterMs` let the page flag a stage that falls silent:
        // silence sends no update.
        send("stages", {
          stages: all.map((s) => (dirty.has(s.stage) ? dirty.get(s.stage) : s)).filter((s) => s),
          at: ctx.clock.now(),
          staleAfterMs: staleAfter,
        });
        for (const s of all) if (dirty.get(s.stage)) dirty.delete(s.stage);
      } catch (err) {
        send("error", errorResponse(err).body);
        sse.close();
        return;
      }
      ready = true;
      if (dirty.size) timer = ctx.clock.setTimeout(flush, flushMs);
    };
    return {
      begin: () => void first(),
      end: () => {
        off();
        if (timer !== undefined) ctx.clock.clear(timer);
      },
    };
  });
}
