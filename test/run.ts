/**
 * Runs every `*.test.ts` under test/ as its own process, on Node (tsx) and on Deno, two at a time,
 * and ends with one "N passed, N failed" line. Usage: tsx test/run.ts [node|deno|all] [filter] Env:
 * CKPT_TEST_JOBS (files at once, 2), CKPT_TEST_TIMEOUT (seconds before a file is killed as hung,
 * 300).
 */
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import process from "node:process";

type RuntimeName = "node" | "deno";
const root = new URL("..", import.meta.url).pathname;
const which = (process.argv[2] ?? "all") as RuntimeName | "all";
const filter = process.argv[3];
const runtimes: RuntimeName[] = which === "all" ? ["node", "deno"] : [which];
const parallel = Number(process.env.CKPT_TEST_JOBS ?? 2);
// A file that hangs (an open handle after a failed assertion) must fail CI, not stall it: no file
// takes more than a few seconds on a quiet machine, so minutes mean stuck.
const timeoutMs = Number(process.env.CKPT_TEST_TIMEOUT ?? 300) * 1000;

function find(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      return name === "node_modules" || name === "fixtures" ? [] : find(p);
    }
    return name.endsWith(".test.ts") ? [p] : [];
  });
}

const files = find(join(root, "test")).filter((f) => !filter || f.includes(filter)).sort();
const bin = (r: RuntimeName) =>
  r === "node"
    ? [process.execPath, ["--import", "tsx"]] as const
    : [join(root, "node_modules/.bin/deno"), ["run", "-A", "--quiet"]] as const;

interface Result {
  file: string;
  runtime: RuntimeName;
  code: number | null;
  passed: number;
  failed: number;
  skipped: number;
  output: string;
  ms: number;
}

function runOne(file: string, runtime: RuntimeName): Promise<Result> {
  const [cmd, args] = bin(runtime);
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, [...args, file], {
      cwd: root,
      env: { ...process.env, CKPT_TEST_RUNTIME: runtime, FORCE_COLOR: "0" },
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => {
      output += `\ntest/run.ts: killed after ${
        timeoutMs / 1000
      }s (CKPT_TEST_TIMEOUT): the file did not exit\n`;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      // uvu prints one summary per file (one suite each); sum in case a file runs several.
      const sum = (label: string) =>
        [...output.matchAll(new RegExp(`${label}:\\s+(\\d+)`, "g"))].reduce(
          (a, m) => a + Number(m[1]),
          0,
        );
      const total = sum("Total");
      const passed = sum("Passed");
      const skipped = sum("Skipped");
      const failed = Math.max(total - passed - skipped, code === 0 ? 0 : 1);
      resolve({
        file: relative(root, file),
        runtime,
        code,
        passed,
        failed,
        skipped,
        output,
        ms: Date.now() - started,
      });
    });
  });
}

// test/python/ (the Python client drives its own sidecars), test/browser/ (chromium through
// playwright-core, a Node library) and test/package/ (packs the tarball and drives Node and Deno
// consumers itself): Node only.
const nodeOnly = (f: string) => /^test\/(python|browser|package)\//.test(relative(root, f));
const jobs = runtimes.flatMap((r) =>
  files.filter((f) => r === "node" || !nodeOnly(f)).map((f) => [f, r] as const)
);
const results: Result[] = [];
let next = 0;
async function worker() {
  while (next < jobs.length) {
    const [f, r] = jobs[next++]!;
    const res = await runOne(f, r);
    results.push(res);
    // uvu can exit 0 after a test whose error its reporter cannot print: a shortfall in the counts
    // fails too.
    const bad = res.code !== 0 || res.failed > 0;
    const mark = bad ? "FAIL" : "ok  ";
    console.log(
      `${mark} ${r.padEnd(4)} ${res.file} (${res.passed} passed${
        res.skipped ? `, ${res.skipped} skipped` : ""
      }, ${(res.ms / 1000).toFixed(1)}s)`,
    );
    for (const line of res.output.split("\n")) {
      if (/^skipped: /.test(line.trim())) console.log(`     ${line.trim()}`);
    }
    if (bad) console.log(res.output.split("\n").map((l) => "     | " + l).join("\n"));
  }
}
await Promise.all(Array.from({ length: parallel }, worker));
const passed = results.reduce((a, r) => a + r.passed, 0);
const failed = results.reduce((a, r) => a + r.failed, 0);
const skipped = results.reduce((a, r) => a + r.skipped, 0);
console.log(
  `\n${files.length} files × ${runtimes.join(" + ")}${
    runtimes.includes("deno") && files.some(nodeOnly)
      ? ` (${files.filter(nodeOnly).length} file(s) on node only: python, browser, package)`
      : ""
  }`,
);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 || results.some((r) => r.code !== 0) || files.length === 0 ? 1 : 0);
