/**
 * Holds a segment log open for segments-folder.test.ts, which SIGKILLs it: opens the folder given
 * as argument, appends once, prints "held" and waits.
 */
import process from "node:process";
import { segmentLog } from "../../adapters/segments.ts";

const log = await segmentLog(process.argv[2]!);
await log.append("s", [{ type: "item", v: 1, at: 0, index: 0, outcome: "ok" }], {
  expectedRevision: "any",
});
process.stdout.write("held\n");
setInterval(() => {}, 1000);
