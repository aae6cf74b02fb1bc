/**
 * Figure 7: a real ckpt-server on 127.0.0.1 under autocannon (single and batched updates), and ckpt
 * through adapters/http.ts.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { open } from "../mod.ts";
import { repoRoot } from "./child.ts";
import type { Autocannon, AutocannonResult } from "./autocannon.ts";
import { loadDep } from "./deps.ts";
import { startSidecar } from "./sidecar-server.ts";
import { type Spread, spread } from "./stats.ts";

export interface SidecarFigures {
  available: true;
  connections: number;
  /** Length of each single-update load; batched loads take `batchedSeconds`. */
  seconds: number;
  batchedSeconds?: number;
  batchSize: number;
  singleRequestsPerSec: Spread;
  singleP50Ms: Spread;
  singleP99Ms: Spread;
  batchedEventsPerSec: Spread;
  batchedP99Ms: Spread;
  /** ckpt over adapters/http.ts: `run.mark()` hot loop + flush, events/s. */
  libraryHotPerSec?: Spread;
  /** ckpt over adapters/http.ts: 64 workers each awaiting `run.done()`, updates/s. */
  libraryWorkersPerSec?: Spread;
  /**
   * One Python process through clients/python (bench/python_worker.py): mark() batched + flush,
   * events/s.
   */
  pythonMarkPerSec?: Spread;
  /** The same process: done() from 1 and from 64 threads, each call durable, updates/s. */
  pythonDonePerSec?: Spread;
  pythonDone64PerSec?: Spread;
  /** Why the Python rows are missing (no python3 on the machine). */
  pythonSkipped?: string;
  errors: number;
  /** ckpt-server's own peak RSS over all the sidecar rows, bytes (Linux). */
  serverPeakRss?: number;
}

export type SidecarResult = { available: false; reason: string } | SidecarFigures;

const CONNECTIONS = 64;
const BATCH = 1000;

export function sidecarMissing(): string | undefined {
  const missing = ["server/app.ts", "adapters/http.ts"].filter((f) =>
    !existsSync(join(repoRoot, f))
  );
  return missing.length ? `sidecar: not available yet (${missing.join(", ")} missing)` : undefined;
}

async function beginRun(url: string, stage: string): Promise<string> {
  const res = await fetch(`${url}/v1/stages/${stage}/runs`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ leaseMs: 600_000 }),
  });
  if (!res.ok) throw new Error(`begin ${stage}: HTTP ${res.status} ${await res.text()}`);
  return ((await res.json()) as { runId: string }).runId;
}

/** One autocannon run posting updates to a run; every request carries fresh item indices. */
async function load(
  autocannon: Autocannon,
  url: string,
  stage: string,
  runId: string,
  perRequest: number,
  seconds: number,
  next: { index: number },
) {
  return autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: "POST",
        path: `/v1/stages/${stage}/runs/${runId}/updates`,
        headers: { "content-type": "application/json" },
        setupRequest(req) {
          const updates = [];
          for (let k = 0; k < perRequest; k++) updates.push({ type: "item", index: next.index++ });
          return { ...req, body: JSON.stringify({ updates }) };
        },
      },
    ],
  });
}

/** ckpt itself in this process, its log the sidecar over HTTP. */
async function library(
  url: string,
  stage: string,
  events: number,
  workers: number,
): Promise<{ hot: number; awaited: number }> {
  const { connectHttpLog } = (await import("../adapters/http.ts")) as {
    connectHttpLog(o: { url: string }): Promise<import("../mod.ts").EventLog>;
  };
  const store = await open({ log: await connectHttpLog({ url }) });
  try {
    const run = await store.stage(stage).begin({ leaseMs: 600_000 });
    let t0 = performance.now();
    for (let i = 0; i < events; i++) {
      const wait = run.mark(i);
      if (wait) await wait;
    }
    await run.flush();
    const hot = (events / (performance.now() - t0)) * 1000;
    let next = events;
    let n = 0;
    t0 = performance.now();
    const end = t0 + 1500;
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (performance.now() < end) {
          await run.done(next++);
          n++;
        }
      }),
    );
    const awaited = (n / (performance.now() - t0)) * 1000;
    await run.complete();
    return { hot, awaited };
  } finally {
    await store.close();
  }
}

/** bench/python_worker.py against the sidecar: one Python process, the figures it prints. */
function python(
  url: string,
  stage: string,
  events: number,
): { mark: number; done1: number; done64: number } | string {
  const py = process.env.CKPT_PYTHON ?? "python3";
  if (spawnSync(py, ["--version"]).status !== 0) return `${py} not found`;
  const out = execFileSync(py, [
    join(repoRoot, "bench/python_worker.py"),
    url,
    stage,
    String(events),
  ], { encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").pop()!) as {
    mark: number;
    done1: number;
    done64: number;
  };
}

export async function sidecarLoad(
  o: {
    seconds: number;
    /** Batched loads measure throughput only: they can be shorter. Default `seconds`. */
    batchedSeconds?: number;
    rounds: number;
    libraryEvents: number;
    progress: (line: string) => void;
  },
): Promise<SidecarResult> {
  const missing = sidecarMissing();
  if (missing) return { available: false, reason: missing };
  const autocannon = loadDep<Autocannon>("autocannon");
  const server = await startSidecar("sync");
  try {
    const single = await beginRun(server.url, "http-single");
    const batched = await beginRun(server.url, "http-batched");
    const nextSingle = { index: 0 };
    const nextBatched = { index: 0 };
    const s: AutocannonResult[] = [];
    const b: AutocannonResult[] = [];
    const libHot: number[] = [];
    const libWorkers: number[] = [];
    const py: { mark: number[]; done1: number[]; done64: number[]; skipped?: string } = {
      mark: [],
      done1: [],
      done64: [],
    };
    await load(autocannon, server.url, "http-single", single, 1, 1, nextSingle); // warm-up
    for (let r = 0; r < o.rounds; r++) {
      s.push(await load(autocannon, server.url, "http-single", single, 1, o.seconds, nextSingle));
      b.push(
        await load(
          autocannon,
          server.url,
          "http-batched",
          batched,
          BATCH,
          o.batchedSeconds ?? o.seconds,
          nextBatched,
        ),
      );
      const lib = await library(server.url, `lib-${r}`, o.libraryEvents, CONNECTIONS);
      libHot.push(lib.hot);
      libWorkers.push(lib.awaited);
      const p = python(server.url, `py-${r}`, o.libraryEvents);
      if (typeof p === "string") py.skipped = p;
      else py.mark.push(p.mark), py.done1.push(p.done1), py.done64.push(p.done64);
      const last = (x: AutocannonResult[]) => x[x.length - 1]!;
      o.progress(
        `sidecar round ${r + 1}/${o.rounds}: single ${
          Math.round(last(s)["2xx"] / last(s).duration)
        } req/s p99 ${last(s).latency.p99} ms; ` +
          `batched ${
            Math.round((last(b)["2xx"] * BATCH) / last(b).duration)
          } events/s; library hot ${Math.round(lib.hot)}/s, 64 workers ${
            Math.round(lib.awaited)
          }/s` +
          (typeof p === "string"
            ? `; python: ${p}`
            : `; python mark ${Math.round(p.mark)}/s, done ${Math.round(p.done1)}/s, 64 threads ${
              Math.round(p.done64)
            }/s`),
      );
    }
    return {
      available: true,
      connections: CONNECTIONS,
      seconds: o.seconds,
      batchedSeconds: o.batchedSeconds ?? o.seconds,
      batchSize: BATCH,
      singleRequestsPerSec: spread(s.map((x) => x["2xx"] / x.duration)),
      singleP50Ms: spread(s.map((x) => x.latency.p50)),
      singleP99Ms: spread(s.map((x) => x.latency.p99)),
      batchedEventsPerSec: spread(b.map((x) => (x["2xx"] * BATCH) / x.duration)),
      batchedP99Ms: spread(b.map((x) => x.latency.p99)),
      libraryHotPerSec: spread(libHot),
      libraryWorkersPerSec: spread(libWorkers),
      ...(py.mark.length
        ? {
          pythonMarkPerSec: spread(py.mark),
          pythonDonePerSec: spread(py.done1),
          pythonDone64PerSec: spread(py.done64),
        }
        : {}),
      ...(py.skipped ? { pythonSkipped: py.skipped } : {}),
      errors: [...s, ...b].reduce((n, x) => n + x.errors + x.timeouts + x.non2xx, 0),
      ...(server.peakRss() !== undefined ? { serverPeakRss: server.peakRss()! } : {}),
    };
  } finally {
    await server.stop();
  }
}
