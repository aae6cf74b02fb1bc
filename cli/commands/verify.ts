/**
 * `ckpt verify [stage...]`: decodes every event, checks revisions run contiguously from the first
 * stored one to the head, replays from scratch with core's reducer and compares with the stored
 * snapshots and with the state the store resumes from. Exit 1 names each broken stage's first
 * problem.
 */
import type { LevelExtras } from "../../adapters/level/guard.ts";
import { type RepairReport, repairStore } from "../../adapters/level/repair.ts";
import { repairSegments } from "../../adapters/segments/repair.ts";
import { isCkptError } from "../../core/errors.ts";
import { parseEvent } from "../../core/events.ts";
import type { EventLog, Snapshot, StreamInfo } from "../../core/log.ts";
import { startFrom } from "../../core/fold.ts";
import { applyToProjection, type Projection } from "../../core/projection.ts";
import { REDUCER_VERSION } from "../../core/state.ts";
import type { Store } from "../../core/store.ts";
import { bool } from "../args.ts";
import { type Command, JSON_FLAG, STORE_FLAGS } from "../command.ts";
import type { Ctx } from "../context.ts";
import { UsageError } from "../errors.ts";
import { firstDifference } from "../diff.ts";
import { int, palette } from "../format.ts";
import { type Meter, meter } from "../meter.ts";
import { selectStages } from "../stages.ts";
import { stageName } from "../values.ts";

/** Fields a snapshot may hold differently from a replay without anything being wrong. */
const MAY_DIFFER = [
  // Set by compaction (and by history() from the log's first revision), not by any event.
  "history.compactedEvents",
];

export interface StageVerdict {
  stage: string;
  ok: boolean;
  /** The first problem found, or null. */
  problem: string | null;
  /** Things worth knowing that are not wrong (an old snapshot version, say). */
  notes: string[];
  events: number;
  first: number;
  head: number;
  snapshotRevision: number | null;
}

export const verifyCommand: Command = {
  name: "verify",
  summary:
    "decode every event, check revisions, replay from scratch and compare with the snapshots",
  positionals: [{ name: "stage", description: "stages to verify (default: all)", variadic: true }],
  flags: {
    repair: {
      type: "boolean",
      description:
        "LevelDB folder or segment log only: keep a copy of the files, recover what can be recovered, say what was lost",
    },
    ...JSON_FLAG,
    ...STORE_FLAGS,
  },
  details:
    "Exits 0 when every stage checks out, 1 naming each broken stage's first problem. Never writes to the store,\n" +
    "except with --repair, which first copies the files as they were into damaged-<time>-before-repair/ inside\n" +
    "the store, then exits 1 when anything was lost.",
  examples: ["ckpt verify", "ckpt verify fetch --json", "ckpt verify --repair --store ./.ckpt"],
  async run(args, ctx) {
    const names = args.positionals.map((n) => stageName(n, "ckpt verify"));
    let repaired: RepairReport | undefined;
    if (bool(args, "repair")) {
      const folder = ctx.storeFolder;
      if (!folder) {
        throw new UsageError(
          "--repair applies to a LevelDB folder or a segment log (--store); a server or EventStoreDB repairs itself.",
          "ckpt verify",
        );
      }
      repaired = folder.kind === "segments"
        ? await repairSegments(folder.path)
        : await repairStore(folder.path);
      if (!bool(args, "json")) await printRepair(repaired, ctx);
    }
    const lost = repaired?.stages.some((s) => s.lost) ?? false;
    const store = await ctx.store({ readOnly: true });
    const stages = await selectStages(store, names, ctx.target);
    const infos = (await Promise.all(stages.map((s) => store.log.info(s)))).filter((i) =>
      i !== undefined
    );
    const m = meter(ctx, "events", infos.reduce((a, i) => a + i.head - i.first + 1, 0));
    const verdicts: StageVerdict[] = [];
    try {
      for (const info of infos) {
        m.label(info.stream);
        verdicts.push(await verifyStage(store, info, m));
      }
    } finally {
      m.done();
    }
    const bad = verdicts.filter((v) => !v.ok);
    if (bool(args, "json")) {
      await ctx.stdout.write(
        JSON.stringify(
          {
            ok: bad.length === 0 && !lost,
            stages: verdicts,
            ...(repaired ? { repair: repaired } : {}),
          },
          null,
          2,
        ) + "\n",
      );
      return bad.length || lost ? 1 : 0;
    }
    const p = palette(ctx.color);
    const w = Math.max(0, ...verdicts.map((v) => v.stage.length));
    for (const v of verdicts) {
      const what = v.ok
        ? `${int(v.events)} events (revisions ${v.first}–${v.head})${
          v.snapshotRevision === null ? "" : `, snapshot at ${v.snapshotRevision} matches`
        }`
        : v.problem!;
      await ctx.stdout.write(
        `${v.ok ? p.green("ok  ") : p.red("FAIL")}  ${v.stage.padEnd(w)}  ${what}\n`,
      );
      for (const n of v.notes) {
        await ctx.stdout.write(`      ${" ".repeat(w)}  ${p.dim("note: " + n)}\n`);
      }
    }
    const n = verdicts.length;
    await ctx.stdout.write(
      n === 0
        ? `No stages in ${ctx.target}.\n`
        : `\nVerified ${n} stage${n === 1 ? "" : "s"}: ${n - bad.length} ok${
          bad.length ? `, ${p.red(`${bad.length} with problems`)}` : ""
        }.\n`,
    );
    return bad.length || lost ? 1 : 0;
  },
};

async function printRepair(r: RepairReport, ctx: Ctx): Promise<void> {
  const range = (
    a: [number, number],
  ) => (a[0] === a[1] ? `revision ${a[0]}` : `revisions ${a[0]}–${a[1]}`);
  await ctx.stdout.write(`Repaired ${ctx.target}; the files as they were are kept in ${r.kept}.\n`);
  if (!r.ledger && ctx.storeFolder?.kind !== "segments") {
    await ctx.stdout.write(
      "The ledger (CKPT-LEDGER) was missing or damaged: only losses LevelDB still knew of can be told.\n",
    );
  }
  for (const s of r.stages) {
    const kept = s.kept ? `kept ${range(s.kept)}` : "nothing could be kept (removed)";
    const history = s.historyLost
      ? `; the history of ${range(s.historyLost)} lost (their effect kept in a snapshot)`
      : "";
    await ctx.stdout.write(
      `  ${s.stage}: ${kept}${
        s.lost ? `; LOST ${range(s.lost)}` : history ? "" : "; nothing lost"
      }${history}\n`,
    );
    for (const n of s.notes) await ctx.stdout.write(`    note: ${n}\n`);
  }
  await ctx.stdout.write("\n");
}

/** Checks one stage; stops at its first problem. */
export async function verifyStage(
  store: Store,
  info: StreamInfo,
  m?: Meter,
): Promise<StageVerdict> {
  const log = store.log;
  const v: StageVerdict = {
    stage: info.stream,
    ok: true,
    problem: null,
    notes: [],
    events: 0,
    first: info.first,
    head: info.head,
    snapshotRevision: null,
  };
  const fail = (problem: string) => ((v.ok = false), (v.problem = problem), v);
  const base = info.first > 0 ? await load(log, info.stream, "base") : undefined;
  if (info.first > 0) {
    if (base instanceof Error) return fail(`cannot decode the base snapshot: ${base.message}`);
    if (!base) {
      return fail(
        `compacted up to revision ${info.first}, but the base snapshot is missing: the state cannot be rebuilt`,
      );
    }
    const why = snapshotProblem(base, info.stream, info.first - 1);
    if (why) return fail(`the base snapshot ${why}`);
  }
  // snapshotProblem() above refused any base that cannot start the fold.
  const p = startFrom(info.stream, info.first, base as Snapshot | undefined)!;
  const latest = await load(log, info.stream, "latest");
  if (latest instanceof Error) return fail(`cannot decode the latest snapshot: ${latest.message}`);
  if (latest) {
    if (latest.revision > info.head) {
      return fail(
        `the latest snapshot (revision ${latest.revision}) runs ahead of the last event (${info.head})`,
      );
    }
    if (latest.version !== REDUCER_VERSION) {
      v.notes.push(
        `the latest snapshot is from reducer version ${latest.version} (this ckpt has ${REDUCER_VERSION}); it is ignored and the stage replays in full on load`,
      );
    } else if (latest.revision < info.first - 1) {
      return fail(
        `the latest snapshot (revision ${latest.revision}) is older than the base snapshot (${
          info.first - 1
        }): resuming from it would skip events`,
      );
    } else {
      v.snapshotRevision = latest.revision;
      const why = snapshotProblem(latest, info.stream, latest.revision);
      if (why) return fail(`the latest snapshot ${why}`);
    }
  }
  const compare = (at: number) => {
    if (!latest || v.snapshotRevision !== at) return undefined;
    const d = firstDifference(latest.state, p, MAY_DIFFER);
    return d && `the snapshot at revision ${at} differs from a replay from scratch: ${d}`;
  };
  const atBase = compare(info.first - 1);
  if (atBase) return fail(atBase);
  let expected = info.first;
  try {
    for await (const { revision, event } of log.read(info.stream, { from: info.first })) {
      if (revision !== expected) {
        return fail(
          revision > expected
            ? `revision ${expected}${
              revision - expected > 1 ? `–${revision - 1}` : ""
            } missing (the next stored event is ${revision})`
            : `revision ${revision} stored twice or out of order (expected ${expected})`,
        );
      }
      let e;
      try {
        e = parseEvent(event);
      } catch (err) {
        return fail(
          `revision ${revision} does not match the event schema: ${(err as Error).message}`,
        );
      }
      try {
        applyToProjection(p, e, revision);
      } catch (err) {
        return fail(`revision ${revision} (${e.type}) does not replay: ${(err as Error).message}`);
      }
      const d = compare(revision);
      if (d) return fail(d);
      expected++;
      v.events++;
      m?.tick();
    }
  } catch (err) {
    if (!isCkptError(err)) throw err;
    return fail(`cannot read revision ${expected}: ${err.code} ${err.message}`);
  }
  if (expected - 1 !== info.head) {
    return fail(
      `the events end at revision ${expected - 1}, but the stage's head says ${info.head}`,
    );
  }
  const chained = log as Partial<LevelExtras>;
  if (chained.verifyChain) {
    try {
      const broken = await chained.verifyChain(info.stream);
      if (broken) return fail(broken);
    } catch (err) {
      if (!isCkptError(err)) throw err;
      return fail(`cannot check the checksum chain: ${err.code} ${err.message}`);
    }
  }
  try {
    // What a resuming pipeline would get: latest snapshot + tail, through core's own load path.
    const resumed = await store.stage(info.stream).state();
    if (resumed.revision === p.state.revision) {
      const d = firstDifference(resumed, p.state);
      if (d) {
        return fail(`the state the store resumes from differs from a replay from scratch: ${d}`);
      }
    }
  } catch (err) {
    if (!isCkptError(err)) throw err;
    return fail(`the store cannot load this stage: ${err.code} ${err.message}`);
  }
  return v;
}

async function load(
  log: EventLog,
  stage: string,
  which: "latest" | "base",
): Promise<Snapshot | undefined | Error> {
  try {
    return await log.loadSnapshot(stage, which);
  } catch (err) {
    if (isCkptError(err)) return err;
    throw err;
  }
}

/** Why a snapshot cannot be trusted as the state at `revision`, or undefined. */
function snapshotProblem(s: Snapshot, stage: string, revision: number): string | undefined {
  if (s.revision !== revision) return `is at revision ${s.revision}, expected ${revision}`;
  if (s.version !== REDUCER_VERSION) {
    return `is from reducer version ${s.version} (this ckpt has ${REDUCER_VERSION})`;
  }
  const st = s.state as Partial<Projection> | null;
  if (!st || typeof st !== "object" || !st.state || !st.history) {
    return "does not hold a state and a history";
  }
  if (st.state.stage !== stage) return `belongs to stage "${st.state.stage}"`;
  if (st.state.revision !== revision) {
    return `holds a state at revision ${st.state.revision}, not ${revision}`;
  }
  return undefined;
}
