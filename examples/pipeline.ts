/**
 * A real resumable pipeline on the embedded store: fetches (simulates) N items with 8 async
 * workers, saves each output, then records it. Kill it at any moment (Ctrl+C or kill -9) and
 * run it again: it continues where it stopped, redoing nothing that was recorded.
 *
 *   npx tsx examples/pipeline.ts [--items 2000] [--store ./.ckpt] [--out ./out] [--delay-ms 20]
 *   npx tsx examples/pipeline.ts --url http://127.0.0.1:7410   # through a sidecar, e.g. `ckpt dashboard`
 */
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { handleSignals, open } from "../mod.ts";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
};
const items = Number(arg("items", "2000"));
const outDir = arg("out", "./out");
const delayMs = Number(arg("delay-ms", "20"));
const workers = 8;

const url = arg("url", process.env.CKPT_URL ?? "");
const store = await open(
  url ? { url } : { path: arg("store", process.env.CKPT_STORE ?? "./.ckpt") },
);
handleSignals(store); // Ctrl+C: flush, record "paused", exit 130
const urls = Array.from({ length: items }, (_, i) => `https://example.test/items/${i}`);
const run = await store.stage("example-fetch").begin({ total: items, config: { items, outDir } });
console.log(run.resumed.message);
await mkdir(outDir, { recursive: true });

async function processItem(i: number): Promise<void> {
  await new Promise((r) => setTimeout(r, delayMs)); // the "network call"
  const path = join(outDir, `${i}.json`);
  // Save before mark: write the output atomically, then record the item.
  await writeFile(path + ".tmp", JSON.stringify({ i, url: urls[i], at: Date.now() }));
  await rename(path + ".tmp", path);
  await run.done(i, { item: urls[i], cost: 0.001 });
  if (process.env.CKPT_EXAMPLE_ACK) console.log(`ack ${i}`);
}

let next = 0;
const started = Date.now();
const progress = setInterval(() => {
  const s = run.state;
  console.log(
    `${s.counters.processed}/${items} done, ${((s.counters.processed / items) * 100).toFixed(1)}%`,
  );
}, 1000);
await Promise.all(
  Array.from({ length: workers }, async () => {
    while (next < items) {
      const i = next++;
      if (!run.isDone(i)) await processItem(i);
    }
  }),
);
clearInterval(progress);
await run.complete({ seconds: (Date.now() - started) / 1000 });
const s = await store.stage("example-fetch").state();
console.log(
  `completed: ${s.counters.processed}/${items} items, ${s.runs} run(s), cost ${s.cost.toFixed(3)}`,
);
await store.close();
