/**
 * One hot-loop round in a fresh process (spawned by hotloop.ts), so peak RSS and heap are its own.
 * Args: KIND EVENTS; prints one JSON line.
 */
import process from "node:process";
import { BATCHED_TX, openSqlite } from "./baseline-sqlite.ts";
import { type CkptKind, openCkpt } from "./ckpt.ts";
import { gc, memory } from "./env.ts";
import { peakRss as highWater } from "./peak.ts";
import type { HotRound } from "./hotloop.ts";
import { removeAll, removeDir } from "./tmp.ts";

function sampler() {
  gc();
  const m0 = memory();
  let peakRss = m0.rss;
  let peakHeap = m0.heapUsed;
  return {
    sample() {
      const m = memory();
      if (m.rss > peakRss) peakRss = m.rss;
      if (m.heapUsed > peakHeap) peakHeap = m.heapUsed;
    },
    // The kernel's high-water mark as well: samples between awaits can miss a spike.
    result: () => ({ peakRss: Math.max(peakRss, highWater()), heapGrowth: peakHeap - m0.heapUsed }),
  };
}

async function ckptRound(kind: CkptKind, n: number): Promise<HotRound> {
  const c = await openCkpt(kind, "hot");
  const mem = sampler();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const wait = c.run.mark(i);
    if (wait) {
      mem.sample();
      await wait;
    } else if ((i & 0xffff) === 0) mem.sample();
  }
  await c.run.flush();
  const elapsed = performance.now() - t0;
  mem.sample();
  const batch = c.log.events / c.log.appends;
  await c.run.complete();
  await c.store.close();
  if (c.dir) removeDir(c.dir);
  return { perSec: (n / elapsed) * 1000, ...mem.result(), batch };
}

/** SQLite's best hand-batched loop: rows buffered and committed BATCHED_TX at a time. */
async function sqliteRound(n: number): Promise<HotRound> {
  const db = await openSqlite();
  const mem = sampler();
  const t0 = performance.now();
  let chunk: number[] = [];
  for (let i = 0; i < n; i++) {
    chunk.push(i);
    if (chunk.length === BATCHED_TX) {
      db.insertMany(chunk, Date.now());
      chunk = [];
      mem.sample();
    }
  }
  if (chunk.length) db.insertMany(chunk, Date.now());
  const elapsed = performance.now() - t0;
  mem.sample();
  db.close();
  return { perSec: (n / elapsed) * 1000, ...mem.result(), batch: BATCHED_TX };
}

const [kind, events] = [process.argv[2], Number(process.argv[3])];
try {
  const r = kind === "sqlite"
    ? await sqliteRound(events)
    : await ckptRound(kind as CkptKind, events);
  process.stdout.write(JSON.stringify(r) + "\n");
} finally {
  removeAll();
}
