/**
 * Startup: how long `ckpt --version` and `ckpt list` on an empty store take from a cold process,
 * wall time and peak RSS, through tsx (the in-repo launcher) and as the compiled JavaScript the
 * package ships; and what importing each entry point costs (compiled). Node only; builds dist/
 * first. Standalone: `npx tsx bench/startup.ts [--rounds N]`.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { bytes, ms, range, ratio } from "./format.ts";
import { ratios, type Spread, spread } from "./stats.ts";
import type { TargetCheck } from "./results.ts";
import type { Row } from "./table.ts";

const root = new URL("..", import.meta.url).pathname;
const probe = join(root, "bench/rss-probe.mjs");

export interface StartupCase {
  key: string;
  figure: string;
  subject: string;
  wallMs: Spread;
  rssBytes: Spread;
  /** Against the tsx path of the same command, per round. */
  vsTsx?: Spread;
  /**
   * Wall time over a bare `node -e 0` of the same round: what ckpt adds, less sensitive to a busy
   * machine.
   */
  overNodeMs?: Spread;
}

/** One cold process: wall time around spawn-to-exit, peak RSS from the probe. */
function once(args: string[], env: Record<string, string>): { wall: number; rss: number } {
  const dir = mkdtempSync(join(tmpdir(), "ckpt-startup-"));
  const rssFile = join(dir, "rss");
  writeFileSync(rssFile, "");
  try {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, ["--import", probe, ...args], {
      cwd: root,
      env: { ...process.env, ...env, CKPT_BENCH_RSS_FILE: rssFile },
      encoding: "utf8",
    });
    const wall = performance.now() - t0;
    if (r.status !== 0) {
      throw new Error(`startup bench: node ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
    }
    return { wall, rss: Number(readFileSync(rssFile, "utf8").trim().split("\n").pop()) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function startupTimes(
  o: { rounds: number; progress?: (line: string) => void },
): StartupCase[] {
  const build = spawnSync(process.execPath, [join(root, "scripts/build.mjs")], {
    cwd: root,
    encoding: "utf8",
  });
  if (build.status !== 0) throw new Error(`startup bench: the build failed: ${build.stderr}`);
  const store = mkdtempSync(join(tmpdir(), "ckpt-startup-store-"));
  // `ckpt list` reads only: on a folder that holds no store it is CKPT_NOT_FOUND, so one is made
  // (empty) first.
  const made = spawnSync(process.execPath, [
    "--input-type=module",
    "-e",
    `const s = await (await import("ckpt")).open({ path: ${
      JSON.stringify(store)
    } }); await s.close()`,
  ], { cwd: root, encoding: "utf8" });
  if (made.status !== 0) {
    throw new Error(`startup bench: could not create an empty store: ${made.stderr}`);
  }
  const env = { CKPT_STORE: store, NO_COLOR: "1" };
  const importCode = (spec: string) => `await import(${JSON.stringify(spec)})`;
  // Importing by package name from the repo: Node resolves "ckpt/..." to dist/ through
  // package.json's exports.
  const cases: { key: string; figure: string; subject: string; args: string[]; tsxOf?: string }[] =
    [
      {
        key: "node",
        figure: "startup: bare `node -e 0` (the floor)",
        subject: "node",
        args: ["-e", "0"],
      },
      ...(["--version", "list"] as const).flatMap((cmd) => {
        const figure = `startup: \`ckpt ${cmd}\`${cmd === "list" ? " on an empty store" : ""}`;
        const argv = cmd === "list" ? ["list", "--json"] : ["--version"];
        return [
          {
            key: `tsx ${cmd}`,
            figure,
            subject: "tsx (node cli/bin.mjs)",
            args: ["cli/bin.mjs", ...argv],
          },
          {
            key: `dist ${cmd}`,
            figure,
            subject: "compiled (dist/cli/main.js, the npm bin)",
            args: ["dist/cli/main.js", ...argv],
            tsxOf: `tsx ${cmd}`,
          },
        ];
      }),
      ...["ckpt", "ckpt/http", "ckpt/eventstoredb", "ckpt/server", "ckpt/testing"].map((spec) => ({
        key: `import ${spec}`,
        figure: "import an entry point (compiled, a cold `node` process)",
        subject: `import("${spec}")`,
        args: ["--input-type=module", "-e", importCode(spec)],
      })),
    ];
  const samples = new Map(cases.map((c) => [c.key, { wall: [] as number[], rss: [] as number[] }]));
  try {
    for (let round = 0; round < o.rounds; round++) {
      for (const c of cases) {
        const s = once(c.args, env);
        samples.get(c.key)!.wall.push(s.wall);
        samples.get(c.key)!.rss.push(s.rss);
      }
      o.progress?.(`startup round ${round + 1}/${o.rounds}`);
    }
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
  return cases.map((c) => {
    const s = samples.get(c.key)!;
    const tsx = c.tsxOf ? samples.get(c.tsxOf) : undefined;
    const floor = samples.get("node")!.wall;
    return {
      key: c.key,
      figure: c.figure,
      subject: c.subject,
      wallMs: spread(s.wall),
      rssBytes: spread(s.rss),
      ...(tsx ? { vsTsx: ratios(s.wall, tsx.wall) } : {}),
      ...(c.key !== "node" ? { overNodeMs: spread(s.wall.map((w, r) => w - floor[r]!)) } : {}),
    };
  });
}

const TARGET = { ms: 150, rss: 60 * 2 ** 20 };

/**
 * The rows, and (into `targets`, when given) a check per compiled-bin command, so the JSON's target
 * list has them.
 */
export function startupRows(cases: readonly StartupCase[], targets?: TargetCheck[]): Row[] {
  return cases.map((c) => {
    const compiledBin = c.key.startsWith("dist ");
    const met = c.wallMs.median <= TARGET.ms && c.rssBytes.median <= TARGET.rss;
    if (compiledBin) {
      targets?.push({
        target: `${c.figure}, compiled: ≤150 ms and ≤60 MB`,
        measured: `${ms(c.wallMs.median)}, ${bytes(c.rssBytes.median)}`,
        met,
        ...(met ? {} : {
          by: `${(c.wallMs.median / TARGET.ms).toFixed(2)}× the time, ${
            (c.rssBytes.median / TARGET.rss).toFixed(2)
          }× the memory`,
        }),
      });
    }
    return {
      figure: c.figure,
      subject: c.subject,
      value: range(c.wallMs, ms),
      ...(c.overNodeMs
        ? {
          detail: `${c.overNodeMs.median < 0 ? "−" : "+"}${
            ms(Math.abs(c.overNodeMs.median))
          } over bare node`,
        }
        : {}),
      rss: range(c.rssBytes, bytes),
      ...(c.vsTsx ? { ratio: `${ratio(c.vsTsx)} of tsx` } : {}),
      ...(compiledBin
        ? {
          target: "≤150 ms, ≤60 MB",
          verdict: met ? "met" : `MISSED (${ms(c.wallMs.median)}, ${bytes(c.rssBytes.median)})`,
        }
        : {}),
    };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { renderTable } = await import("./table.ts");
  const at = process.argv.indexOf("--rounds");
  const rounds = at >= 0 ? Number(process.argv[at + 1]) : 5;
  const cases = startupTimes({ rounds, progress: (l) => process.stderr.write(`bench: ${l}\n`) });
  process.stdout.write(renderTable(startupRows(cases)) + "\n");
}
