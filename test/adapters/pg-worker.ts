/**
 * A worker process for the PostgreSQL tests: joins the stage's live run through `open({ url })` and
 * records its share of items (index % workers === worker), printing "ack <i>" only after `done(i)`
 * resolved.
 */
import process from "node:process";
import { open } from "../../mod.ts";

const [url, stage, worker, workers, total] = process.argv.slice(2);
const store = await open({ url: url! });
const run = await store.stage(stage!).begin({ join: true, total: Number(total), leaseMs: 30_000 });
const tasks: Promise<void>[] = [];
const mine: number[] = [];
for (let i = Number(worker); i < Number(total); i += Number(workers)) {
  if (!run.isDone(i)) mine.push(i);
}
for (const i of mine) {
  tasks.push(run.done(i, { cost: 1 }).then(() => void process.stdout.write(`ack ${i}\n`)));
  if (tasks.length >= 8) {
    await Promise.all(tasks.splice(0));
    // A moment of "work" per batch, as real pipelines have: eight writers with none at all only
    // measure the writer's conflict-retry limit (see the report), not the log.
    await new Promise((r) => setTimeout(r, 20));
  }
}
await Promise.all(tasks);
process.stdout.write(`worker ${worker} done\n`);
await run.close();
await store.close();
