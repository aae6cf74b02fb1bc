/** Reads Server-Sent Events from a Response until a condition holds (tests only). */

export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

export async function readSse(
  res: Response,
  until: (all: SseMessage[]) => boolean,
  timeoutMs = 5000,
): Promise<SseMessage[]> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const all: SseMessage[] = [];
  let buf = "";
  const timer = setTimeout(() => void reader.cancel().catch(() => undefined), timeoutMs);
  try {
    while (!until(all)) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += value;
      let cut: number;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        const m: SseMessage = { event: "message", data: "" };
        let any = false;
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const [k, ...rest] = line.split(":");
          const v = rest.join(":").replace(/^ /, "");
          if (k === "id") m.id = v;
          else if (k === "event") m.event = v;
          else if (k === "data") (m.data += v), (any = true);
        }
        if (any) all.push(m);
      }
    }
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => undefined);
  }
  return all;
}
