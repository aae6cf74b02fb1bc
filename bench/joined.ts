/**
 * Two sidecar figures the main bench does not take: 8 joined worker processes on one stage through
 * a real ckpt-server (events/s, worker failures), and how long a worker takes to resume once a
 * SIGKILLed sidecar is back. Usage: npx tsx bench/joined.ts [items=16000] [downMs=3000]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { repoRoot } from "./child.ts";

const items = Number(process.argv[2] ?? 16_000);
const downMs = Number(process.argv[3] ?? 3000);
const WORKERS = 8;
const worker = join(repoRoot, "test/server/fixtures/joined-worker.ts");
const server = join(repoRoot, "server/node.ts");

interface Proc {
  child: ChildProcess;
  lines: string[];
  exit: Promise<number | null>;
  onLine?: (line: string) => void;
}

function start(file: string, args: string[]): Proc {
  const child = spawn(process.execPath, ["--import", "tsx", file, ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const p: Proc = {
    child,
    lines: [],
    exit: new Promise((r) => child.on("close", (code) => r(code))),
  };
  let buf = "";
  child.stdout!.on("data", (d) => {
    buf += d;
    const cut = buf.lastIndexOf("\n");
    if (cut < 0) return;
    for (const line of buf.slice(0, cut).split("\n")) {
      p.lines.push(line);
      p.onLine?.(line);
    }
    buf = buf.slice(cut + 1);
  });
  return p;
}

async function sidecar(dir: string, port = 0): Promise<{ proc: Proc; url: string; port: number }> {
  const proc = start(server, ["--store", dir, "--port", String(port), "--quiet"]);
  // --quiet prints nothing: poll until it answers.
  if (port === 0) throw new Error("pick a port");
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { proc, url, port };
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), "ckpt-bench-joined-"));
try {
  // 1. Eight joined workers, half mark + flush every 250, half awaiting done() with 8 in flight.
  let s = await sidecar(join(dir, "a"), await freePort());
  const t0 = performance.now();
  const ws = Array.from(
    { length: WORKERS },
    (_, k) =>
      start(worker, [
        s.url,
        "",
        "joined",
        String(k),
        String(WORKERS),
        String(items),
        k % 2 ? "done" : "mark",
      ]),
  );
  const codes = await Promise.all(ws.map((w) => w.exit));
  const seconds = (performance.now() - t0) / 1000;
  const st = (await (await fetch(`${s.url}/v1/stages/joined`)).json()) as {
    counters: { processed: number; duplicates: number };
  };
  const failures = codes.filter((c) => c !== 0).length;
  s.proc.child.kill("SIGKILL");
  await s.proc.exit;

  // 2. One worker awaiting done(); the sidecar is SIGKILLed, stays down `downMs`, and comes back.
  const port = await freePort();
  s = await sidecar(join(dir, "b"), port);
  const w = start(worker, [s.url, "", "resume", "0", "1", "1000000", "done"]);
  await new Promise<void>((
    r,
  ) => (w.onLine = (l) => l.startsWith("ack ") && w.lines.length > 200 && r()));
  s.proc.child.kill("SIGKILL");
  await s.proc.exit;
  await new Promise((r) => setTimeout(r, downMs));
  const acksBefore = w.lines.length;
  const restarted = performance.now();
  s = await sidecar(join(dir, "b"), port);
  const back = performance.now();
  await new Promise<void>((
    r,
  ) => (w.onLine = (l) => l.startsWith("ack ") && w.lines.length > acksBefore && r()));
  const resumedMs = performance.now() - back;
  const restartMs = back - restarted;
  w.child.kill("SIGKILL");
  s.proc.child.kill("SIGKILL");
  await Promise.all([w.exit, s.proc.exit]);

  const row = (a: string, b: string) => console.log(`| ${a.padEnd(58)} | ${b.padEnd(40)} |`);
  row("figure", "value");
  row("-".repeat(58), "-".repeat(40));
  row(
    `8 joined workers via the sidecar, ${items.toLocaleString("en-US")} items`,
    `${Math.round(items / seconds).toLocaleString("en-US")} events/s (${seconds.toFixed(1)} s)`,
  );
  row(
    "  worker failures / processed / duplicates",
    `${failures} / ${st.counters.processed.toLocaleString("en-US")} / ${st.counters.duplicates}`,
  );
  row(
    `worker resumes after a sidecar SIGKILL (down ${(downMs / 1000).toFixed(1)} s)`,
    `${Math.round(resumedMs)} ms after it answers again`,
  );
  row("  sidecar restart to first answer", `${Math.round(restartMs)} ms`);
  if (failures > 0 || st.counters.processed !== items) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
