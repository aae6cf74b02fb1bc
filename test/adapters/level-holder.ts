/**
 * Holds a LevelDB store open for level-lock.test.ts, which SIGKILLs it: opens the folder given as
 * argument, appends once, prints "held" (once its ledger is written) and waits.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { levelLog } from "../../adapters/level.ts";

const log = await levelLog(process.argv[2]!);
await log.append("s", [{ type: "item", v: 1, at: 0, index: 0, outcome: "ok" }], {
  expectedRevision: "any",
});
// "held" once the ledger written after the append is there too: the folder then stays as it is.
while (!existsSync(join(process.argv[2]!, "CKPT-LEDGER"))) {
  await new Promise((r) => setTimeout(r, 20));
}
process.stdout.write("held\n");
setInterval(() => {}, 1000);
