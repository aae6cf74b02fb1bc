/** Compacts the store it is given (the crash test SIGKILLs it part-way). */
import process from "node:process";
import { open } from "../../mod.ts";

const [path, maxEvents] = process.argv.slice(2);
const store = await open({ path: path! });
process.stdout.write("ready\n");
const report = await store.compact({ maxEvents: Number(maxEvents), minEvents: 10 }, {
  onProgress: (p) => process.stdout.write(`stage ${p.index}\n`),
});
process.stdout.write(`done ${report.eventsRemoved}\n`);
await store.close();
