/**
 * PostgreSQL appends as a named prepared statement (the default) against the same statement sent
 * unnamed (`prepare: false`, for poolers that keep no prepared statements): 64 awaiting workers on
 * one stage, durable, a fresh schema per subject per round on one throwaway server, subjects
 * alternating so drift cancels in the per-round ratios.
 *
 *   npx tsx bench/postgres-prepare.ts [--rounds 4] [--ms 3000]
 */
import process from "node:process";
import { postgresLog } from "../adapters/postgres.ts";
import { open } from "../mod.ts";
import { startPostgres } from "../test/helpers/postgres-server.ts";
import { ratios, spread } from "./stats.ts";

const arg = (name: string, d: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? d : Number(process.argv[i + 1]);
};
const rounds = arg("rounds", 4);
const ms = arg("ms", 3000);
const WORKERS = 64;

async function updatesPerSec(url: string, schema: string, prepare: boolean): Promise<number> {
  const store = await open({ log: await postgresLog({ url, schema, prepare }) });
  try {
    const run = await store.stage("bench").begin();
    let next = 0;
    const go = async (forMs: number) => {
      const t0 = performance.now();
      const end = t0 + forMs;
      let n = 0;
      await Promise.all(
        Array.from({ length: WORKERS }, async () => {
          while (performance.now() < end) {
            await run.done(next++);
            n++;
          }
        }),
      );
      return (n / (performance.now() - t0)) * 1000;
    };
    await go(500); // warm-up: the pool's connections, the statement's first plans
    const perSec = await go(ms);
    await run.complete();
    return perSec;
  } finally {
    await store.close();
  }
}

const server = await startPostgres();
const named: number[] = [];
const unnamed: number[] = [];
try {
  for (let r = 0; r < rounds; r++) {
    named.push(await updatesPerSec(server.url, `prep_${r}_on`, true));
    unnamed.push(await updatesPerSec(server.url, `prep_${r}_off`, false));
    process.stderr.write(
      `round ${r + 1}: prepared ${Math.round(named[r]!)}/s, unnamed ${Math.round(unnamed[r]!)}/s\n`,
    );
  }
} finally {
  await server.close();
}
const k = (x: number) => `${(x / 1000).toFixed(1)}k`;
const show = (xs: number[]) => {
  const s = spread(xs);
  return `${k(s.median)}/s [${k(s.min)}–${k(s.max)}]`;
};
const ratio = ratios(named, unnamed);
console.log(`${WORKERS} awaiting workers on PostgreSQL, durable, ${rounds} rounds of ${ms} ms`);
console.log(`prepared (default)   ${show(named)}`);
console.log(`unnamed (prepare: false) ${show(unnamed)}`);
console.log(
  `prepared ÷ unnamed per round: ${ratio.median.toFixed(2)}× [${ratio.min.toFixed(2)}–${
    ratio.max.toFixed(2)
  }]`,
);
