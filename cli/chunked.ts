/**
 * Batches many small writes into ~64 KiB chunks: one write (and one back-pressure wait) per chunk,
 * not per line.
 */
import type { Out } from "./context.ts";

export interface Chunked {
  /** Adds text; resolves after a write only when the chunk was full. */
  push(text: string): Promise<void> | undefined;
  /** Writes what is buffered. */
  flush(): Promise<void>;
}

export function chunked(out: Out, size = 64 * 1024): Chunked {
  let buf: string[] = [];
  let len = 0;
  const flush = async () => {
    if (len === 0) return;
    const text = buf.join("");
    buf = [];
    len = 0;
    await out.write(text);
  };
  return {
    push(text) {
      buf.push(text);
      len += text.length;
      return len >= size ? flush() : undefined;
    },
    flush,
  };
}
