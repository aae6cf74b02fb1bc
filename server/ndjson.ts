/**
 * Streams an async iterable as NDJSON, pulled as the client reads (so a slow client never makes the
 * sidecar buffer a whole history). A failure after the first line cannot change the status any
 * more: it is sent as a last `{"error":{…}}` line, which the HTTP adapter turns back into a throw.
 */
import { errorResponse } from "./errors.ts";

const CHUNK_BYTES = 64 * 1024;

/** Starts iterating before answering, so an error at the start still gets its proper status. */
export async function ndjson<T>(
  source: AsyncIterable<T>,
  map: (item: T) => unknown = (x) => x,
  headers: Record<string, string> = {},
): Promise<Response> {
  const it = source[Symbol.asyncIterator]();
  const first = await it.next();
  const enc = new TextEncoder();
  let pending: IteratorResult<T> | undefined = first;
  const body = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      let text = "";
      try {
        while (text.length < CHUNK_BYTES) {
          const r: IteratorResult<T> = pending ?? (await it.next());
          pending = undefined;
          if (r.done) {
            if (text) ctrl.enqueue(enc.encode(text));
            ctrl.close();
            return;
          }
          text += JSON.stringify(map(r.value)) + "\n";
        }
        ctrl.enqueue(enc.encode(text));
      } catch (err) {
        ctrl.enqueue(enc.encode(text + JSON.stringify(errorResponse(err).body) + "\n"));
        ctrl.close();
      }
    },
    async cancel() {
      await it.return?.();
    },
  });
  return new Response(body, {
    status: 200,
    headers: { "content-type": "application/x-ndjson; charset=utf-8", ...headers },
  });
}
