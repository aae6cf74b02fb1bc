/**
 * `npm run bench` / `deno task bench` [--full] [--rounds N] [--only SECTION,...]: every workload,
 * every adapter and baseline; a table on stdout, JSON in bench/results/. Sections: durable, hot,
 * resume, replay, disk, state, sidecar, postgres, startup. A run with --only writes its own file
 * but leaves bench/results/latest.json as it was.
 */
import process from "node:process";
import { jsonFileSubject } from "./baseline-json.ts";
import { sqliteAutocommitSubject, sqliteGroupSubject } from "./baseline-sqlite.ts";
import { ckptSubject } from "./ckpt.ts";
import { ensureDeps } from "./deps.ts";
import { diskAsWritten, diskCompacted, type DiskResult } from "./disk.ts";
import { type DurableSubjectResult, durableUpdates } from "./durable.ts";
import { load1, machine, runtime } from "./env.ts";
import { buildHistory, type History } from "./history.ts";
import { hotLoops } from "./hotloop.ts";
import {
  benchServer,
  type PostgresBenchResult,
  postgresFigures,
  postgresRows,
  postgresSubject,
} from "./postgres.ts";
import { type ReplayResult, replaySpeed } from "./replay.ts";
import { type BenchResults, writeResults } from "./results.ts";
import { type ResumeResult, resumeTimes } from "./resume.ts";
import { buildRows } from "./rows.ts";
import { type SegmentOpenResult, segmentOpenTimes } from "./segments-open.ts";
import { sidecarLoad, type SidecarResult } from "./sidecar.ts";
import { startupRows, startupTimes } from "./startup.ts";
import { stateSizePipeline, stateSizeReducer, type StateSizeResult } from "./state-size.ts";
import type { Subject } from "./subject.ts";
import { renderTable } from "./table.ts";
import { removeAll, removeDir } from "./tmp.ts";
import { bytes, pow10 } from "./format.ts";
import { peakRss, resetPeak, withPeak } from "./peak.ts";
import { DEFAULT_WRITER_OPTIONS } from "../core/writer.ts";

const argv = process.argv.slice(2);
const full = argv.includes("--full");
const roundsArg = argv.indexOf("--rounds");
const SECTIONS = [
  "durable",
  "hot",
  "resume",
  "replay",
  "disk",
  "state",
  "sidecar",
  "postgres",
  "startup",
] as const;
type Section = (typeof SECTIONS)[number];
const onlyArg = argv.indexOf("--only");
const only = onlyArg >= 0 ? (argv[onlyArg + 1] ?? "").split(",").filter(Boolean) : undefined;
const unknown = only?.filter((s) => !(SECTIONS as readonly string[]).includes(s));
if (only && (only.length === 0 || unknown!.length > 0)) {
  process.stderr.write(
    `bench: --only takes a comma-separated list of ${SECTIONS.join(", ")}${
      unknown?.length ? ` (not: ${unknown.join(", ")})` : ""
    }\n`,
  );
  process.exit(2);
}
const wants = (s: Section) => !only || only.includes(s);

/**
 * Quick mode aims to fit in under 2 minutes on a quiet 2-core machine: every row of the full run,
 * with shorter cells and smaller loads; --full is the long, steadier run.
 */
const config = {
  rounds: roundsArg >= 0 ? Number(argv[roundsArg + 1]) : full ? 5 : 3,
  workers: [1, 8, 64],
  cellMs: full ? 2000 : 300,
  hotEvents: full ? 10_000_000 : 500_000,
  histories: full ? [1e3, 1e4, 1e5, 1e6, 1e7] : [1e3, 1e4, 1e5, 1e6],
  /** Events after the latest snapshot in every history (a longest-tail one is added). */
  resumeTail: 500,
  replayEvents: 1e6,
  stateItems: 1e7,
  statePipeline: full,
  // A 1 s load is mostly its first connections and a cold JIT: its p99 says little of steady state.
  sidecarSeconds: full ? 10 : 3,
  sidecarBatchedSeconds: full ? 10 : 1,
  sidecarLibraryEvents: full ? 1_000_000 : 100_000,
  /** Cold starts per command (each a process of a few hundred ms). */
  startupRounds: full ? 10 : 3,
  postgresEvents: full ? 1_000_000 : 200_000,
  /** Segment log resume: histories of marks, and one of one-event appends (the most pages). */
  segmentHistories: full ? [1e3, 1e5, 1e6] : [1e3, 1e6],
  segmentPagesEvents: full ? 1_000_000 : 100_000,
};

/**
 * 1-minute load averages seen at each progress line: the run's figures are only as clean as the
 * machine was quiet.
 */
const loads: number[] = [];
const t00 = performance.now();
const progress = (line: string) => {
  loads.push(load1());
  process.stderr.write(
    `bench: [${((performance.now() - t00) / 1000).toFixed(0).padStart(3)} s] ${line}\n`,
  );
};

async function main(): Promise<void> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const skipped: string[] = [];
  const depsProblem = runtime === "node" ? ensureDeps() : undefined;
  // Deno runs baseline B on its built-in node:sqlite; Node needs better-sqlite3 from
  // bench/node_modules.
  const sqlite = runtime === "deno" || depsProblem === undefined;
  if (runtime === "deno") {
    skipped.push(
      "B runs on Deno's built-in node:sqlite here (better-sqlite3 is a V8/nan addon Deno cannot load); the sidecar rows need autocannon: `npm run bench`",
    );
  } else if (depsProblem) {
    skipped.push(`B: SQLite baselines and the sidecar rows skipped: ${depsProblem}`);
  }
  if (only) {
    skipped.push(
      `only these sections ran (--only): ${
        only.join(", ")
      }; bench/results/latest.json left as it was`,
    );
  }
  const m = machine();
  progress(
    `${
      full ? "full" : "quick"
    } mode on ${m.runtime}, ${m.cpu}, ${m.cores} cores; ${config.rounds} rounds${
      only ? `; only ${only.join(", ")}` : ""
    }`,
  );

  // PostgreSQL rows run on a throwaway server of the bench's own (absent PostgreSQL: a note, not a
  // failure).
  const pg = wants("durable") || wants("postgres") ? await benchServer() : {};
  if (pg.reason) skipped.push(pg.reason);
  let durable: DurableSubjectResult[] = [];
  if (wants("durable")) {
    const subjects: Subject[] = [
      await ckptSubject("sync"),
      await ckptSubject("os"),
      await ckptSubject("memory"),
      await ckptSubject("segments"),
      await ckptSubject("segments-threadpool"),
      jsonFileSubject(),
      ...(sqlite ? [await sqliteAutocommitSubject(), await sqliteGroupSubject()] : []),
      ...(pg.server ? [await postgresSubject(pg.server)] : []),
    ];
    durable = await durableUpdates(subjects, {
      workers: config.workers,
      rounds: config.rounds,
      ms: config.cellMs,
      progress,
    });
  }
  const hot = wants("hot")
    ? await hotLoops({ events: config.hotEvents, rounds: config.rounds, sqlite, progress })
    : [];

  const histories: History[] = [];
  const resume: ResumeResult[] = [];
  let replay: ReplayResult | undefined;
  let hotLoopDisk: DiskResult | undefined;
  if (wants("resume") || wants("replay") || wants("disk")) {
    const worstTail = DEFAULT_WRITER_OPTIONS.snapshotEvery - 1;
    const sizes = wants("resume") ? config.histories : [config.replayEvents];
    const plan: Array<[number, number]> = sizes.map((n) => [n, config.resumeTail]);
    if (wants("resume")) plan.push([1e6, worstTail]);
    for (const [n, tail] of plan) {
      const t0 = performance.now();
      histories.push(await buildHistory(n, tail));
      progress(
        `built a history of ${pow10(n)} events (tail ${tail}) in ${
          ((performance.now() - t0) / 1000).toFixed(1)
        } s`,
      );
    }
    const forDisk = histories.find((h) => h.events === config.replayEvents) ??
      histories[histories.length - 1]!;
    const asWritten = diskAsWritten(forDisk);
    // Each resume takes milliseconds, so many rounds are cheap and tame the noise of LevelDB's
    // open.
    const resumeRounds = Math.max(15, config.rounds * 3);
    if (wants("resume")) {
      resume.push(
        ...(await resumeTimes(histories, { rounds: resumeRounds, compacted: false, progress })),
      );
    }
    if (wants("replay")) replay = await replaySpeed(forDisk, { rounds: config.rounds, progress });
    // Compacting tells LevelDB's share of resume (level-0 tables a crash leaves unmerged) from
    // ckpt's.
    hotLoopDisk = await diskCompacted(forDisk, asWritten);
    if (wants("resume")) {
      resume.push(
        ...(await resumeTimes([histories[0]!, forDisk], {
          rounds: resumeRounds,
          compacted: true,
          progress,
        })).slice(1),
      );
    }
    for (const h of histories) removeDir(h.dir);
  }
  let segmentResume: SegmentOpenResult[] | undefined;
  if (wants("resume")) {
    segmentResume = await segmentOpenTimes({
      sizes: config.segmentHistories,
      pagesEvents: config.segmentPagesEvents,
      rounds: Math.max(5, config.rounds * 2),
      progress,
    });
  }

  const stateSize: StateSizeResult[] = [];
  if (wants("state")) {
    resetPeak();
    stateSize.push({ ...stateSizeReducer(config.stateItems), processPeakRss: peakRss() });
    progress(
      `state size via reducer: ${stateSize[0]!.finalBytes} B final, ${
        stateSize[0]!.peakBytes
      } B peak`,
    );
    if (config.statePipeline) {
      const { value, peakRss: rss } = await withPeak(() => stateSizePipeline(config.stateItems));
      stateSize.push({ ...value, processPeakRss: rss });
    }
  }

  const sidecar: SidecarResult = !wants("sidecar")
    ? { available: false, reason: "sidecar: not run (--only)" }
    : runtime === "deno"
    ? {
      available: false as const,
      reason: "sidecar: measured on Node only (autocannon drives it): `npm run bench`",
    }
    : depsProblem
    ? { available: false as const, reason: `sidecar: ${depsProblem}` }
    : await sidecarLoad({
      seconds: config.sidecarSeconds,
      batchedSeconds: config.sidecarBatchedSeconds,
      rounds: config.rounds,
      libraryEvents: config.sidecarLibraryEvents,
      progress,
    });

  let postgres: PostgresBenchResult = { available: false, reason: pg.reason ?? "not run" };
  let postgresPeak: number | undefined;
  if (pg.server) {
    try {
      if (wants("postgres")) {
        const r = await withPeak(() =>
          postgresFigures(pg.server!, {
            rounds: config.rounds,
            events: config.postgresEvents,
            tail: config.resumeTail,
            progress,
          })
        );
        postgres = r.value;
        postgresPeak = r.peakRss;
      }
    } finally {
      await pg.server.close();
    }
  }

  // Cold starts of the CLI (tsx vs the compiled bin) and of each entry point: Node only, it builds
  // dist/ first.
  const startup = runtime === "node" && wants("startup")
    ? startupTimes({ rounds: config.startupRounds, progress })
    : undefined;
  if (!startup && wants("startup")) {
    skipped.push(
      "startup rows: Node only (they compare the tsx launcher with the compiled npm bin): `npm run bench`",
    );
  }

  const workersDisk = durable.find((s) => s.key === "ckpt-sync")?.closed;
  const atMillion = resume.find((x) =>
    x.events === 1e6 && x.tail === config.resumeTail && !x.compacted
  );
  const results: BenchResults = {
    machine: m,
    mode: full ? "full" : "quick",
    ...(only ? { only } : {}),
    command:
      (runtime === "node" ? `npm run bench${full || only ? " --" : ""}` : "deno task bench") +
      (full ? " --full" : "") + (only ? ` --only ${only.join(",")}` : ""),
    startedAt,
    seconds: 0,
    load: { cores: m.cores, min: Math.min(...loads), max: Math.max(...loads) },
    config,
    skipped,
    durable,
    hot,
    resume,
    ...(atMillion?.vsFirst ? { resumeRatio: atMillion.vsFirst } : {}),
    ...(segmentResume ? { segmentResume } : {}),
    ...(replay ? { replay } : {}),
    disk: {
      ...(wants("disk") && hotLoopDisk ? { hotLoop: hotLoopDisk } : {}),
      ...(workersDisk?.bytes
        ? {
          workers: {
            events: workersDisk.events!,
            bytes: workersDisk.bytes,
            bytesPerEvent: workersDisk.bytesPerEvent!,
          },
        }
        : {}),
    },
    stateSize,
    sidecar,
    postgres,
    ...(startup ? { startup } : {}),
    targets: [],
  };
  const { rows, targets } = buildRows(results);
  if (!only || wants("postgres")) {
    const pgRss = postgresPeak ? { rss: bytes(postgresPeak) } : {};
    rows.push(
      ...postgresRows(postgres, durable.find((s) => s.key === "ckpt-postgres")?.cells[64]?.perSec)
        .map((r) => (r.value === "–" || r.subject.startsWith("bytes") ? r : { ...pgRss, ...r })),
    );
  }
  if (startup) rows.push(...startupRows(startup, targets));
  results.targets = targets;
  results.seconds = (performance.now() - started) / 1000;
  const file = writeResults(new URL("./results/", import.meta.url).pathname, results, !only);

  const out = [
    `ckpt bench (${results.mode}${
      only ? `, only ${only.join(", ")}` : ""
    }) — ${m.runtime} on ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB, ${m.os}; ${config.rounds} interleaved rounds; median [min–max]`,
    `load average during the run: ${results.load.min.toFixed(1)}–${
      results.load.max.toFixed(1)
    } on ${m.cores} cores${
      results.load.max > m.cores * 1.5
        ? " (a busy machine: expect noisy figures; rerun when it is quiet)"
        : ""
    }`,
    `baselines: A = whole ~1 KB JSON state to a temp file + fsync + rename per update; B = ${
      runtime === "node" ? "better-sqlite3" : "node:sqlite"
    }, WAL, synchronous=FULL, one row per update`,
    "peak RSS: of the process the row names (a child process, the server), else of the bench process during that row (Linux: the kernel's high-water mark, reset per row)",
    "",
    renderTable(
      rows.filter((r) => !only || r.value !== "–" || !/not run \(--only\)/.test(r.detail ?? "")),
    ),
    "",
    ...skipped.map((s) => `note: ${s}`),
    `targets: ${targets.filter((t) => t.met).length} met, ${
      targets.filter((t) => !t.met).length
    } missed; ${results.seconds.toFixed(0)} s; results in ${file}${
      only ? "" : " and bench/results/latest.json"
    }`,
  ];
  process.stdout.write(out.join("\n") + "\n");
}

const cleanup = () => removeAll();
process.on("SIGINT", () => {
  cleanup();
  process.exit(130);
});
try {
  await main();
} finally {
  cleanup();
}
