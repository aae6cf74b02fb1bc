/**
 * PostgreSQL rows (issue 17), on a throwaway server the bench starts itself: ckpt on PostgreSQL as
 * a durable-update subject (the 1/8/64-worker rows), the non-awaited `mark` hot path, replay
 * events/s, resume at 10^3 and 10^6 events, and bytes per event as the server stores them.
 */
import { type PostgresLog, postgresLog } from "../adapters/postgres.ts";
import { open, type Run } from "../mod.ts";
import { type PgServer, startPostgres } from "../test/helpers/postgres-server.ts";
import { counting } from "./ckpt.ts";
import { bytes, ms, num, pow10, range } from "./format.ts";
import { STAGE } from "./history.ts";
import { type Spread, spread } from "./stats.ts";
import { groupMeter, type Subject } from "./subject.ts";
import type { Row } from "./table.ts";

export type PostgresBenchResult =
  | {
    available: true;
    server: string;
    hot: { events: number; perSec: number };
    replay: { events: number; replayPerSec: Spread; readPerSec: Spread };
    resume: { events: number; tail: number; ms: Spread }[];
    disk: { events: number; bytes: number; bytesPerEvent: number };
  }
  | { available: false; reason: string };

/** Starts the bench's own server; undefined (with the reason) when PostgreSQL is not installed. */
export async function benchServer(): Promise<{ server?: PgServer; reason?: string }> {
  try {
    return { server: await startPostgres() };
  } catch (e) {
    return { reason: `PostgreSQL rows skipped: ${(e as Error).message.split("\n")[0]}` };
  }
}

const schemaUrl = (s: PgServer, schema: string) => `${s.url}?schema=${schema}`;

export async function postgresSubject(server: PgServer): Promise<Subject> {
  const log = counting(await postgresLog({ url: server.url, schema: "bench_durable" }));
  const store = await open({ log });
  const run = await store.stage("bench").begin({ total: 1_000_000_000 });
  return {
    label: "ckpt PostgreSQL",
    key: "ckpt-postgres",
    update: (i) => run.done(i),
    groupSize: groupMeter(log),
    async close() {
      const written = run.state.revision + 1;
      await run.complete();
      const size = await (log as unknown as PostgresLog).sizeBytes();
      await store.close();
      return { events: written, bytes: size, bytesPerEvent: size / written };
    },
  };
}

async function markRange(run: Run, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    const wait = run.mark(i);
    if (wait) await wait;
  }
}

/**
 * The LevelDB history's shape (run.started, hot marks, pause/resume snapshot, `tail` items, crash),
 * in its own schema.
 */
async function buildHistory(
  server: PgServer,
  events: number,
  tail: number,
): Promise<{ schema: string; hotPerSec: number }> {
  const schema = `bench_h${events}`;
  const store = await open({ url: schemaUrl(server, schema) });
  const run = await store.stage(STAGE).begin({ total: events });
  const before = events - 3 - tail;
  const t0 = performance.now();
  await markRange(run, 0, before);
  await run.flush();
  const hotPerSec = (before / (performance.now() - t0)) * 1000;
  await run.pause("snapshot point");
  await run.resume();
  await markRange(run, before, before + tail);
  await run.flush();
  await store.log.close(); // the crash
  return { schema, hotPerSec };
}

async function resumeOnce(url: string): Promise<{ ms: number; tail: number }> {
  const t0 = performance.now();
  const store = await open({ url });
  const state = await store.stage(STAGE).state();
  const took = performance.now() - t0;
  const snap = await store.log.loadSnapshot(STAGE);
  await store.close();
  return { ms: took, tail: state.revision - (snap?.revision ?? -1) };
}

export async function postgresFigures(
  server: PgServer,
  o: { rounds: number; events: number; tail: number; progress: (line: string) => void },
): Promise<PostgresBenchResult> {
  const small = await buildHistory(server, 1e3, o.tail);
  const t0 = performance.now();
  const big = await buildHistory(server, o.events, o.tail);
  o.progress(
    `PostgreSQL: built ${pow10(o.events)} events in ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s (mark hot path ${Math.round(big.hotPerSec).toLocaleString("en-US")}/s)`,
  );

  const resumeMs = new Map<string, number[]>([[small.schema, []], [big.schema, []]]);
  const tails = new Map<string, number>();
  for (const s of [small.schema, big.schema]) await resumeOnce(schemaUrl(server, s));
  for (let r = 0; r < Math.max(5, o.rounds); r++) {
    for (const s of r % 2 ? [big.schema, small.schema] : [small.schema, big.schema]) {
      const res = await resumeOnce(schemaUrl(server, s));
      resumeMs.get(s)!.push(res.ms);
      tails.set(s, res.tail);
    }
  }

  const store = await open({ url: schemaUrl(server, big.schema) });
  const stage = store.stage(STAGE);
  // Resuming after the "crash" may have recorded lifecycle events (crash detection): count what is
  // there.
  const stored = (await stage.state()).revision + 1;
  const replay: number[] = [];
  const read: number[] = [];
  try {
    for (let r = 0; r < o.rounds; r++) {
      let n = 0;
      let t = performance.now();
      for await (const _ of stage.replay()) n++;
      replay.push((n / (performance.now() - t)) * 1000);
      let m = 0;
      t = performance.now();
      for await (const batch of store.log.readBatches!(STAGE)) m += batch.length;
      read.push((m / (performance.now() - t)) * 1000);
      if (n !== stored || m !== stored) {
        throw new Error(`PostgreSQL replay saw ${n} events, read ${m}, expected ${stored}`);
      }
      o.progress(
        `PostgreSQL replay round ${r + 1}/${o.rounds} ${
          Math.round(replay[r]!).toLocaleString("en-US")
        } events/s (log alone ${Math.round(read[r]!).toLocaleString("en-US")}/s)`,
      );
    }
  } finally {
    await store.close();
  }
  const log = await postgresLog({ url: server.url, schema: big.schema });
  const size = await log.sizeBytes();
  await log.close();
  return {
    available: true,
    server: "PostgreSQL (throwaway, fsync on, localhost)",
    hot: { events: o.events, perSec: big.hotPerSec },
    replay: { events: o.events, replayPerSec: spread(replay), readPerSec: spread(read) },
    resume: [small, big].map((h, i) => ({
      events: i === 0 ? 1e3 : o.events,
      tail: tails.get(h.schema)!,
      ms: spread(resumeMs.get(h.schema)!),
    })),
    disk: { events: o.events, bytes: size, bytesPerEvent: size / o.events },
  };
}

/** The PostgreSQL figures as table rows, with the aims beside them. */
export function postgresRows(r: PostgresBenchResult, workers64?: Spread): Row[] {
  const figure =
    "PostgreSQL (issue 17): 64 awaiting workers, mark hot path, replay, resume, bytes per event";
  if (!r.available) return [{ figure, subject: "ckpt PostgreSQL", value: "–", verdict: r.reason }];
  const [first, last] = [r.resume[0]!, r.resume[r.resume.length - 1]!];
  const flat = last.ms.median / first.ms.median;
  return [
    ...(workers64
      ? [{
        figure,
        subject: "64 awaiting workers, durable",
        value: range(workers64, num, "/s"),
        detail: "the ckpt PostgreSQL row of figure 1–2",
        target: "≥50,000/s",
        verdict: workers64.median >= 50_000
          ? "met"
          : `MISSED (${(50_000 / workers64.median).toFixed(2)}× short)`,
      }]
      : []),
    {
      figure,
      subject: `mark hot path, ${pow10(r.hot.events)} events`,
      value: `${num(r.hot.perSec)}/s`,
      detail: "one sample (the history build)",
    },
    {
      figure,
      subject: `replay ${pow10(r.replay.events)} events`,
      value: range(r.replay.replayPerSec, num, "/s"),
      detail: `log alone ${range(r.replay.readPerSec, num, "/s")}`,
      target: "≥1,000,000/s",
      verdict: r.replay.replayPerSec.median >= 1e6
        ? "met"
        : `MISSED (${(1e6 / r.replay.replayPerSec.median).toFixed(2)}× short)`,
    },
    ...r.resume.map((x) => ({
      figure,
      subject: `resume ${pow10(x.events)} events, tail ${x.tail}`,
      value: range(x.ms, ms),
    })),
    {
      figure,
      subject: `resume ${pow10(last.events)} over ${pow10(first.events)}`,
      value: `${flat.toFixed(2)}×`,
      target: "flat",
      verdict: flat <= 2 ? "met" : `MISSED (${flat.toFixed(1)}×)`,
    },
    {
      figure,
      subject: `bytes per event (${pow10(r.disk.events)} events, tables + indexes)`,
      value: `${num(r.disk.bytesPerEvent)} B`,
      detail: bytes(r.disk.bytes),
    },
  ];
}
