/**
 * The sidecar row on its own: single-update requests (one item each) at 64 connections against a
 * real ckpt-server on 127.0.0.1, LevelDB, durable. With `--before <checkout>` it also runs that
 * checkout's sidecar, alternating rounds, so a change is compared side by side under the same
 * machine load. `--segments` adds the sidecar on a segment log; `--embedded` a bare `node:http`
 * server with ckpt embedded (LevelDB, `run.done()` per request: the durable work without a
 * framework, auth or checks); `--floor` this machine's floor, a bare `node:http` server that parses
 * each body and answers, storing nothing (what autocannon and Node's HTTP alone cost on these cores).
 *
 *   npx tsx bench/sidecar-single.ts [--seconds 5] [--rounds 3] [--before /path/to/other/checkout]
 *     [--segments] [--embedded] [--floor] [--cpu-prof dir]
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import type { Autocannon } from "./autocannon.ts";
import { repoRoot } from "./child.ts";
import { loadDep } from "./deps.ts";
import { type SidecarProcess, startPlainServer, startSidecar } from "./sidecar-server.ts";
import { removeDir, tempDir } from "./tmp.ts";
import { flag } from "./flags.ts";

const CONNECTIONS = 64;

/** The floor's server: Node's HTTP, the body read and parsed, a fixed JSON answer, nothing kept. */
const FLOOR_SERVER = `
const http = require("node:http");
const server = http.createServer((req, res) => {
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    if (req.url.endsWith("/runs")) {
      res.writeHead(201, { "content-type": "application/json" });
      return res.end('{"runId":"floor"}');
    }
    JSON.parse(body);
    res.writeHead(200, { "content-type": "application/json", "content-length": "11" });
    res.end('{"ok":true}');
  });
});
server.listen(0, "127.0.0.1", () => console.log("listening on http://127.0.0.1:" + server.address().port));
`;

const startFloor = () => startPlainServer("floor", ["-e", FLOOR_SERVER]);

/** bench/embedded-http.ts's server: node:http and ckpt on LevelDB, no framework, no checks. */
function startEmbedded(): Promise<SidecarProcess> {
  const dir = tempDir("embedded");
  return startPlainServer(
    "embedded",
    ["--import", "tsx", "bench/embedded-http.ts", "--serve", "level", dir, repoRoot],
    () => removeDir(dir),
  );
}

/**
 * CPU milliseconds (user + system) the process has used, from /proc (Linux); undefined elsewhere.
 */
function cpuMs(pid: number | undefined): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in ticks of 1/100 s
  } catch {
    return undefined;
  }
}

async function round(
  label: string,
  start: () => Promise<SidecarProcess>,
  seconds: number,
) {
  const autocannon = loadDep<Autocannon>("autocannon");
  const server = await start();
  try {
    const res = await fetch(`${server.url}/v1/stages/single/runs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ leaseMs: 600_000 }),
    });
    if (!res.ok) throw new Error(`begin: HTTP ${res.status} ${await res.text()}`);
    const { runId } = (await res.json()) as { runId: string };
    let index = 0;
    const load = (duration: number) =>
      autocannon({
        url: server.url,
        connections: CONNECTIONS,
        duration,
        requests: [
          {
            method: "POST",
            path: `/v1/stages/single/runs/${runId}/updates`,
            headers: { "content-type": "application/json" },
            setupRequest: (req: object) => ({
              ...req,
              body: JSON.stringify({ updates: [{ type: "item", index: index++ }] }),
            }),
          },
        ],
      });
    await load(1); // warm-up: JIT, LevelDB's first files
    const cpu0 = cpuMs(server.pid);
    const r = await load(seconds);
    const cpu1 = cpuMs(server.pid);
    const row = {
      label,
      reqPerSec: Math.round(r["2xx"] / r.duration),
      p50Ms: r.latency.p50,
      p90Ms: r.latency.p90,
      p99Ms: r.latency.p99,
      maxMs: r.latency.max,
      failed: r.non2xx + r.errors + r.timeouts,
      /** The sidecar's CPU time per answered request: steadier than req/s on a busy machine. */
      cpuUsPerReq: cpu0 === undefined || cpu1 === undefined
        ? NaN
        : Math.round(((cpu1 - cpu0) * 1000) / r["2xx"]),
    };
    process.stderr.write(`${JSON.stringify(row)}\n`);
    return row;
  } finally {
    await server.stop();
  }
}

const seconds = Number(flag("seconds") ?? 5);
const rounds = Number(flag("rounds") ?? 3);
const before = flag("before");
const prof = flag("cpu-prof");
const subjects: [string, () => Promise<SidecarProcess>][] = [];
if (before) subjects.push(["before", () => startSidecar("sync", { root: before })]);
subjects.push([
  before ? "after" : "this",
  () => startSidecar("sync", prof ? { flags: ["--cpu-prof", `--cpu-prof-dir=${prof}`] } : {}),
]);
if (process.argv.includes("--segments")) {
  subjects.push(["segments", () => startSidecar("sync", { store: "segments" })]);
}
if (process.argv.includes("--embedded")) subjects.push(["embedded", startEmbedded]);
if (process.argv.includes("--floor")) subjects.push(["floor", startFloor]);
const rows = [];
for (let r = 0; r < rounds; r++) {
  for (const [label, start] of subjects) rows.push(await round(label, start, seconds));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const labels = [...new Set(rows.map((r) => r.label))];
console.log(
  `single-update requests, ${CONNECTIONS} connections, durable (LevelDB unless named), ${seconds} s x ${rounds} rounds (median; range)`,
);
for (const l of labels) {
  const of = rows.filter((r) => r.label === l);
  const col = (k: "reqPerSec" | "p50Ms" | "p99Ms" | "maxMs" | "cpuUsPerReq") =>
    `${median(of.map((r) => r[k]))} (${Math.min(...of.map((r) => r[k]))}–${
      Math.max(...of.map((r) => r[k]))
    })`;
  console.log(
    `${l.padEnd(8)} req/s ${col("reqPerSec")}  p50 ${col("p50Ms")} ms  p99 ${
      col("p99Ms")
    } ms  max ${col("maxMs")} ms  sidecar CPU ${col("cpuUsPerReq")} µs/req  failed ${
      of.reduce((n, r) => n + r.failed, 0)
    }`,
  );
}
console.log(JSON.stringify(rows));
