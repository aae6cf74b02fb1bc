/**
 * `ckpt import <file>`: rebuilds stages from a `ckpt export` file, same revisions and all.
 * Everything is checked (schemas, transitions, the exported state) before the first write.
 */
import { CkptError, ErrorCode, isCkptError } from "../../core/errors.ts";
import { invalid, issuesOf } from "../../core/validate.ts";
import { checkStageName, type CkptEvent, parseEvent } from "../../core/events.ts";
import type { Snapshot } from "../../core/log.ts";
import { foldEvents, startFrom } from "../../core/fold.ts";
import { type Projection, toSnapshot } from "../../core/projection.ts";
import type { Store } from "../../core/store.ts";
import { REDUCER_VERSION } from "../../core/state.ts";
import { bool } from "../args.ts";
import { type Command, STORE_FLAGS } from "../command.ts";
import { firstDifference } from "../diff.ts";
import { EXPORT_FORMAT, EXPORT_VERSION, ExportFileSchema } from "../export-format.ts";
import { int } from "../format.ts";
import { type Meter, meter } from "../meter.ts";

const CHUNK = 10_000;

interface Planned {
  stage: string;
  first: number;
  base: Snapshot | null;
  events: CkptEvent[];
}

export const importCommand: Command = {
  name: "import",
  summary: 'rebuild stages from a `ckpt export` file ("-" reads stdin)',
  positionals: [{ name: "file", description: "the export file, or - for stdin", required: true }],
  flags: {
    replace: {
      type: "boolean",
      description: "delete stages that already exist in the target before importing them",
    },
    "dry-run": { type: "boolean", description: "check the file and the target, write nothing" },
    ...STORE_FLAGS,
  },
  details:
    "Stages are rebuilt with the same revisions (a compacted stage gets its base snapshot back). A stage that\n" +
    "already exists is refused unless --replace. Import is atomic per append, not per file: if it is\n" +
    "interrupted, run it again with --replace.",
  examples: [
    "ckpt import backup.json --store ./restored",
    "ckpt export | ckpt import - --url http://127.0.0.1:7410 --replace",
  ],
  async run(args, ctx) {
    const path = args.positionals[0]!;
    const planned = check(path, await ctx.readText(path));
    const dry = bool(args, "dry-run");
    let store: Store | undefined;
    try {
      store = await ctx.store(dry ? { readOnly: true } : { create: true });
    } catch (e) {
      // A dry run into a folder that does not exist yet: an empty target, and nothing gets created.
      if (!(dry && isCkptError(e, ErrorCode.NOT_FOUND))) throw e;
    }
    const existing = new Set(store ? (await store.log.streams()).map((s) => s.stream) : []);
    const clash = planned.filter((p) => existing.has(p.stage)).map((p) => p.stage);
    if (clash.length && !bool(args, "replace")) {
      throw new CkptError(
        ErrorCode.CONFLICT,
        `${
          clash.length === 1
            ? `Stage "${clash[0]}" already exists`
            : `Stages ${clash.map((s) => `"${s}"`).join(", ")} already exist`
        } in ${ctx.target}; pass --replace to overwrite, or import into another store.`,
        { details: { stages: clash } },
      );
    }
    const total = planned.reduce((a, p) => a + p.events.length, 0);
    const what = `${planned.length} stage${planned.length === 1 ? "" : "s"} (${int(total)} events)`;
    if (dry || !store) {
      const fate = !store
        ? "the target does not exist yet (it would be created)"
        : clash.length
        ? `${clash.length} would be replaced`
        : "none exists in the target";
      await ctx.stdout.write(
        `Dry run: ${path === "-" ? "stdin" : path} holds ${what}; ${fate}. Nothing was written.\n`,
      );
      return 0;
    }
    const m = meter(ctx, "events", total);
    try {
      for (const p of planned) {
        m.label(p.stage);
        if (existing.has(p.stage)) await store.stage(p.stage).delete();
        await write(store, p, m);
      }
    } finally {
      m.done();
    }
    await ctx.stdout.write(
      `Imported ${what} from ${path === "-" ? "stdin" : path} into ${ctx.target}.\n`,
    );
    return 0;
  },
};

/** Parses and checks the whole file: a bad one is refused before anything is written. */
function check(path: string, text: string): Planned[] {
  const bad = (msg: string, cause?: unknown) =>
    new CkptError(
      ErrorCode.INVALID,
      `${path === "-" ? "stdin" : path}: ${msg}`,
      cause === undefined ? {} : { cause },
    );
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw bad(`not JSON (${(e as Error).message}); expected a file written by \`ckpt export\`.`, e);
  }
  const envelope = raw as { format?: unknown; version?: unknown };
  if (
    envelope?.format === EXPORT_FORMAT && typeof envelope.version === "number" &&
    envelope.version > EXPORT_VERSION
  ) {
    throw bad(
      `written by a newer ckpt (export format version ${envelope.version}; this one reads ${EXPORT_VERSION}). Upgrade ckpt to import it.`,
    );
  }
  const r = ExportFileSchema.safeParse(raw);
  if (!r.success) {
    throw invalid(
      path === "-" ? "stdin" : path,
      issuesOf(r.error),
      "Expected a file written by `ckpt export`.",
    );
  }
  const file = r.data;
  const seen = new Set<string>();
  return file.stages.map((s, k) => {
    const where = `stages[${k}] ("${s.stage}")`;
    try {
      checkStageName(s.stage);
    } catch (e) {
      throw bad(`${where}: ${(e as Error).message}`, e);
    }
    if (seen.has(s.stage)) throw bad(`stage "${s.stage}" appears twice.`);
    seen.add(s.stage);
    const events = s.events.map((e, j) => {
      try {
        return parseEvent(e);
      } catch (err) {
        throw bad(`${where}, event at revision ${s.first + j}: ${(err as Error).message}`, err);
      }
    });
    if (s.first > 0 && !s.base) {
      throw bad(
        `${where} starts at revision ${s.first} but has no base snapshot for the revisions before it.`,
      );
    }
    const q = startFrom(s.stage, s.first, s.base as Snapshot | null);
    if (!q || (s.base && s.base.revision !== s.first - 1)) {
      throw bad(
        `${where}: its base snapshot is ${
          s.base && s.base.version !== REDUCER_VERSION
            ? `from reducer version ${s.base.version} (this ckpt has ${REDUCER_VERSION})`
            : "not the state just before its first event"
        }.`,
      );
    }
    try {
      foldEvents(q, events, s.first);
    } catch (err) {
      throw bad(
        `${where}: its events do not replay at revision ${q.state.revision + 1}: ${
          (err as Error).message
        }`,
        err,
      );
    }
    if (s.head !== q.state.revision) {
      throw bad(
        `${where}: "head" is ${s.head} but its events end at revision ${q.state.revision}.`,
      );
    }
    if (file.reducerVersion === REDUCER_VERSION && s.state !== undefined) {
      const d = firstDifference(s.state, q.state);
      if (d) {
        throw bad(
          `${where}: its "state" does not match what its events add up to (${d}); the file was edited or is damaged.`,
        );
      }
    }
    return { stage: s.stage, first: s.first, base: s.base as Snapshot | null, events };
  });
}

/**
 * Appends a planned stage in chunks, each carrying the snapshot of the state it leads to; a failure
 * removes the partial stage.
 */
async function write(store: Store, plan: Planned, m: Meter): Promise<void> {
  const log = store.log;
  // check() made sure the base is usable.
  const p = startFrom(plan.stage, plan.first, plan.base)!;
  let head = plan.first - 1;
  try {
    if (plan.first > 0) await restoreBase(store, plan);
    for (let i = 0; i < plan.events.length; i += CHUNK) {
      const chunk = plan.events.slice(i, i + CHUNK);
      foldEvents(p, chunk, head + 1);
      const snapshot = toSnapshot(p);
      ({ head } = await log.append(plan.stage, chunk, {
        expectedRevision: head < 0 ? "no_stream" : head,
        ...(log.supports.atomicSnapshot ? { snapshot } : {}),
      }));
      if (!log.supports.atomicSnapshot) await log.saveSnapshot(plan.stage, snapshot);
      m.tick(chunk.length);
    }
  } catch (e) {
    await log.delete(plan.stage).catch(() => undefined);
    if (isCkptError(e, ErrorCode.CONFLICT)) {
      throw new CkptError(
        ErrorCode.CONFLICT,
        `Stage "${plan.stage}" was written by someone else during the import; run the import again with --replace.`,
        { cause: e },
      );
    }
    if (isCkptError(e, ErrorCode.BAD_TRANSITION) && plan.first > 0) {
      throw new CkptError(
        ErrorCode.BAD_TRANSITION,
        `${
          ctxLocation(store)
        } refused the events of compacted stage "${plan.stage}" after its restored base snapshot (${e.message}); the partial stage was removed. Import it into a LevelDB or EventStoreDB store instead, or export it before compacting.`,
        { cause: e },
      );
    }
    throw e;
  }
}

const ctxLocation = (store: Store) => store.log.location;

/**
 * A compacted stage starts at revision `first`, but the log contract only appends from the head and
 * only truncates what exists. So: append `first` empty metadata events (allowed in any status),
 * then truncate them away storing the base snapshot; the real events follow at their own revisions.
 * This leans on truncateBefore storing the base it is given: a log that instead keeps its own fold
 * of the removed events (ckpt-server's guard caches one) refuses the events that follow, and
 * `write` undoes it.
 */
async function restoreBase(store: Store, plan: Planned): Promise<void> {
  const at = (plan.base!.state as Projection).state.updatedAt ?? 0;
  let head = -1;
  for (let left = plan.first; left > 0;) {
    const n = Math.min(left, 20_000);
    const filler: CkptEvent[] = Array.from(
      { length: n },
      () => ({ type: "metadata", v: 1, at, metadata: {} }),
    );
    ({ head } = await store.log.append(plan.stage, filler, {
      expectedRevision: head < 0 ? "no_stream" : head,
    }));
    left -= n;
  }
  await store.log.truncateBefore(plan.stage, plan.first, plan.base!);
}
