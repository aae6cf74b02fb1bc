/**
 * A burst of large update requests at once against a real ckpt-server (LevelDB, durable): `--requests`
 * concurrent requests of `--items` bare item updates each (a batching worker's shape; 20,000 is the
 * most one request may carry), spread over 4 runs. Prints the server's peak RSS and the time the
 * burst took; with `--before <checkout>` that checkout's sidecar too, alternating rounds.
 *
 *   npx tsx bench/sidecar-burst.ts [--requests 64] [--items 20000] [--rounds 3] [--before <dir>]
 */
import http from "node:http";
import process from "node:process";
import { startSidecar } from "./sidecar-server.ts";
import { spread } from "./stats.ts";
import { flag } from "./flags.ts";

const REQUESTS = Number(flag("requests") ?? 64);
const ITEMS = Number(flag("items") ?? 20_000);
const ROUNDS = Number(flag("rounds") ?? 3);
const before = flag("before");
const STAGES = ["a", "b", "c", "d"];

function post(agent: http.Agent, url: string, path: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url + path, {
      method: "POST",
      agent,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
    }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode!));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function round(label: string, root: string | undefined) {
  const server = await startSidecar("sync", root ? { root } : {});
  const agent = new http.Agent({ keepAlive: true, maxSockets: REQUESTS });
  try {
    const runs: string[] = [];
    for (const stage of STAGES) {
      const res = await fetch(`${server.url}/v1/stages/${stage}/runs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ leaseMs: 600_000 }),
      });
      runs.push(((await res.json()) as { runId: string }).runId);
    }
    const bodies = Array.from({ length: REQUESTS }, (_, k) =>
      JSON.stringify({
        updates: Array.from({ length: ITEMS }, (_, i) => ({
          type: "item",
          index: Math.floor(k / STAGES.length) * ITEMS + i,
        })),
      }));
    const rssBefore = server.peakRss();
    const t0 = performance.now();
    const statuses = await Promise.all(bodies.map((body, k) =>
      post(
        agent,
        server.url,
        `/v1/stages/${STAGES[k % STAGES.length]}/runs/${runs[k % STAGES.length]}/updates`,
        body,
      )
    ));
    const seconds = (performance.now() - t0) / 1000;
    const row = {
      label,
      seconds: Number(seconds.toFixed(2)),
      updatesPerSec: Math.round((REQUESTS * ITEMS) / seconds),
      peakRssMiB: Math.round((server.peakRss() ?? NaN) / 2 ** 20),
      idleRssMiB: Math.round((rssBefore ?? NaN) / 2 ** 20),
      failed: statuses.filter((s) => s !== 200).length,
    };
    process.stderr.write(`${JSON.stringify(row)}\n`);
    return row;
  } finally {
    agent.destroy();
    await server.stop();
  }
}

const rows = [];
for (let r = 0; r < ROUNDS; r++) {
  if (before) rows.push(await round("before", before));
  rows.push(await round(before ? "after" : "this", undefined));
}
console.log(
  `${REQUESTS} concurrent requests of ${ITEMS} bare item updates, ckpt-server on LevelDB (sync), ${ROUNDS} rounds (median; range)`,
);
for (const label of [...new Set(rows.map((r) => r.label))]) {
  const of = rows.filter((r) => r.label === label);
  const col = (k: "seconds" | "updatesPerSec" | "peakRssMiB") => {
    const s = spread(of.map((r) => r[k]));
    return `${s.median} (${s.min}–${s.max})`;
  };
  console.log(
    `${label.padEnd(7)} peak RSS ${col("peakRssMiB")} MiB  burst ${col("seconds")} s  ${
      col("updatesPerSec")
    } updates/s  failed ${of.reduce((n, r) => n + r.failed, 0)}`,
  );
}
