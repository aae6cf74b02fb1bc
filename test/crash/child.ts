/**
 * The pipeline the crash test kills: 16 async workers process items, save the output (append
 * to processed.txt) BEFORE recording it, and print "ack <i>" only once the record is durable.
 * Half the workers await done(i); the other half mark() and ack after a flush.
 */
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { type CrashAdapter, openStore } from "./open-store.ts";

const [dir, stageName, totalArg, adapter] = process.argv.slice(2);
const total = Number(totalArg);
const store = await openStore(join(dir!, "store"), (adapter ?? "level") as CrashAdapter);
const run = await store.stage(stageName!).begin({ total });
process.stdout.write(`ready ${run.resumed.skipped}\n`);
const processed = join(dir!, "processed.txt");
let next = 0;
const todo = () => {
  while (next < total && run.isDone(next)) next++;
  return next < total ? next++ : -1;
};

async function awaiting(): Promise<void> {
  for (let i = todo(); i >= 0; i = todo()) {
    await new Promise((r) => setImmediate(r));
    appendFileSync(processed, `${i}\n`);
    await run.done(i, { item: `item-${i}` });
    process.stdout.write(`ack ${i}\n`);
  }
}

async function marking(): Promise<void> {
  let pending: number[] = [];
  for (let i = todo(); i >= 0; i = todo()) {
    appendFileSync(processed, `${i}\n`);
    const wait = run.mark(i);
    pending.push(i);
    if (wait || pending.length >= 50) {
      await (wait ?? run.flush());
      await run.flush();
      process.stdout.write(pending.map((p) => `ack ${p}\n`).join(""));
      pending = [];
    }
  }
  await run.flush();
  process.stdout.write(pending.map((p) => `ack ${p}\n`).join(""));
}

await Promise.all(Array.from({ length: 16 }, (_, k) => (k % 2 ? marking() : awaiting())));
await run.complete();
process.stdout.write("complete\n");
await store.close();
