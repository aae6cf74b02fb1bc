/**
 * A writer in its own process for segments-races.test.ts: opens the folder given as argument
 * (4 MiB segments), prints "ready" and appends one event at a time until it is killed.
 */
import process from "node:process";
import { segmentLog } from "../../adapters/segments.ts";

const log = await segmentLog(process.argv[2]!, { segmentBytes: 4 << 20 });
let head: number | "no_stream" = "no_stream";
process.stdout.write("ready\n");
for (let k = 0;; k++) {
  head = (await log.append("s", [{ type: "item", v: 1, at: 0, index: k, outcome: "ok" }], {
    expectedRevision: head,
  })).head;
}
