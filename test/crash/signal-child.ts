/**
 * A pipeline that waits to be stopped by a signal, with ckpt's graceful-shutdown handler installed.
 */
import { join } from "node:path";
import process from "node:process";
import { handleSignals, open } from "../../mod.ts";

const store = await open({ path: join(process.argv[2]!, "store") });
handleSignals(store);
const run = await store.stage("sig").begin({ total: 1_000_000 });
for (let i = 0; i < 100; i++) run.mark(i);
process.stdout.write("ready\n");
let i = 100;
// Keep recording (not awaited) until the signal arrives.
setInterval(() => run.mark(i++), 1);
