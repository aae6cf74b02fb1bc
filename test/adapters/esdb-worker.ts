/**
 * A worker process for the EventStoreDB store test: joins the stage's live run and records its
 * share of items.
 */
import process from "node:process";
import { open } from "../../mod.ts";

const [connectionString, prefix, stage, worker, workers, total] = process.argv.slice(2);
const store = await open({ eventstore: connectionString!, eventstorePrefix: prefix! });
const run = await store.stage(stage!).begin({ join: true, total: Number(total), leaseMs: 10_000 });
const tasks: Promise<void>[] = [];
for (let i = Number(worker); i < Number(total); i += Number(workers)) {
  tasks.push(run.done(i, { cost: 1 }));
  if (tasks.length >= 8) await Promise.all(tasks.splice(0));
}
await Promise.all(tasks);
process.stdout.write(`worker ${worker} done\n`);
await run.close();
await store.log.close();
