/**
 * ckpt embedded in a bare `node:http` server, one `run.done()` per request: the workers are 64
 * autocannon connections, so each caller wakes in its own I/O callback (where the 64-worker row's
 * workers all wake in one). This is the case where a log writing from a microtask on the main
 * thread would commit each request alone; each log should still group its commits here.
 * Each round starts a fresh server per log, in turn; 2 s warm-up, then one measured load.
 *
 *   npx tsx bench/embedded-http.ts [--rounds 3] [--seconds 5] [--before /other/checkout]
 *
 * With --before, the same logs also run from that checkout's adapters (side by side, same rounds).
 * `--serve <log> <dir> <root>` is the server alone (bench/sidecar-single.ts --embedded starts it).
 */
import http from "node:http";
import { join } from "node:path";
import process from "node:process";
import type { Autocannon } from "./autocannon.ts";
import { repoRoot } from "./child.ts";
import { loadDep } from "./deps.ts";
import { startPlainServer } from "./sidecar-server.ts";
import { spread } from "./stats.ts";
import { removeDir, tempDir } from "./tmp.ts";
import { flag } from "./flags.ts";

const LOGS = ["level", "segments", "segments-threadpool"] as const;
type LogKind = (typeof LOGS)[number];

/** The child: a bare HTTP server whose every POST records one item, durably, before answering. */
async function serve(root: string, kind: LogKind, dir: string): Promise<void> {
  const mod = (await import(join(root, "mod.ts"))) as typeof import("../mod.ts");
  const log = kind === "level"
    ? await mod.levelLog(dir)
    : await mod.segmentLog(dir, { blocking: kind === "segments" });
  const store = await mod.open({ log });
  const run = await store.stage("s").begin();
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => {
      // bench/sidecar-single.ts --embedded drives it with the sidecar's requests: a begin, then
      // `{"updates":[{"type":"item","index":N}]}`.
      if (req.url?.endsWith("/runs")) {
        res.writeHead(201, { "content-type": "application/json" });
        return void res.end('{"runId":"embedded"}');
      }
      const parsed = JSON.parse(body) as { index?: number; updates?: { index: number }[] };
      run.done(parsed.index ?? parsed.updates![0]!.index).then(() => {
        res.writeHead(200, { "content-type": "application/json", "content-length": "11" });
        res.end('{"ok":true}');
      }, (err: Error) => {
        res.writeHead(500).end(err.message);
      });
    });
  });
  server.listen(0, "127.0.0.1", () => {
    console.log(JSON.stringify({ port: (server.address() as { port: number }).port }));
  });
  process.once("SIGTERM", () => {
    server.close();
    void store.close().then(() => process.exit(0));
  });
}

async function round(
  autocannon: Autocannon,
  root: string,
  kind: LogKind,
  seconds: number,
): Promise<{ reqPerSec: number; p50: number; p99: number }> {
  const dir = tempDir("embedded-http");
  const server = await startPlainServer(
    kind,
    ["--import", "tsx", join(repoRoot, "bench/embedded-http.ts"), "--serve", kind, dir, root],
    () => removeDir(dir),
  );
  try {
    let index = 0;
    const load = (duration: number) =>
      autocannon({
        url: server.url,
        connections: 64,
        duration,
        requests: [{
          method: "POST",
          path: "/",
          headers: { "content-type": "application/json" },
          setupRequest: (req) => ({ ...req, body: `{"index":${index++}}` }),
        }],
      });
    await load(2);
    const r = await load(seconds);
    if (r.non2xx || r.errors) throw new Error(`${kind}: ${r.non2xx} non-2xx, ${r.errors} errors`);
    return {
      reqPerSec: r["2xx"] / r.duration,
      p50: r.latency.p50,
      p99: r.latency.p99,
    };
  } finally {
    await server.stop();
  }
}

if (flag("serve")) {
  const i = process.argv.indexOf("--serve");
  await serve(process.argv[i + 3]!, process.argv[i + 1] as LogKind, process.argv[i + 2]!);
} else {
  const rounds = Number(flag("rounds") ?? 3);
  const seconds = Number(flag("seconds") ?? 5);
  const before = flag("before");
  const autocannon = loadDep<Autocannon>("autocannon");
  const subjects: [string, string, LogKind][] = [];
  for (const kind of LOGS) {
    subjects.push([`${kind}`, repoRoot, kind]);
    if (before) subjects.push([`${kind} (before)`, before, kind]);
  }
  const figures = new Map<string, { reqPerSec: number; p50: number; p99: number }[]>();
  for (let r = 0; r < rounds; r++) {
    for (const [label, root, kind] of subjects) {
      const f = await round(autocannon, root, kind, seconds);
      figures.set(label, [...(figures.get(label) ?? []), f]);
      process.stderr.write(`round ${r + 1} ${label}: ${JSON.stringify(f)}\n`);
    }
  }
  console.log(
    `bare node:http + ckpt, run.done() per request, 64 connections, ${seconds} s x ${rounds} rounds (median [min–max])`,
  );
  for (const [label, fs] of figures) {
    const rps = spread(fs.map((f) => f.reqPerSec));
    const p99 = spread(fs.map((f) => f.p99));
    const p50 = spread(fs.map((f) => f.p50));
    console.log(
      `${label.padEnd(30)} ${Math.round(rps.median)} req/s [${Math.round(rps.min)}–${
        Math.round(rps.max)
      }]  p50 ${p50.median} ms  p99 ${p99.median} ms [${p99.min}–${p99.max}]`,
    );
  }
}
