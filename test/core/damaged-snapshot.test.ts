/**
 * A snapshot is a cache: one whose bytes decode but whose shape is damaged (LevelDB reads tables
 * without verifying checksums, so a flipped byte can reach us) must never surface as an uncoded
 * TypeError. With the events still there the stage is rebuilt from them; when compaction removed
 * them, it is CKPT_CORRUPT.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { memoryLog } from "../../adapters/memory.ts";
import { CkptError } from "../../core/errors.ts";
import type { EventLog, Snapshot } from "../../core/log.ts";
import { Store } from "../../core/store.ts";

type Damage = (p: any) => void;
const damages: Record<string, Damage> = {
  "history.runs missing": (p) => delete p.history.runs,
  "history.statusChanges not an array": (p) => (p.history.statusChanges = 7),
  "state.resume.ranges missing": (p) => delete p.state.resume.ranges,
  "state.resume a string": (p) => (p.state.resume = "x"),
  "state.counters missing": (p) => delete p.state.counters,
  "state.units null": (p) => (p.state.units = null),
  "state.revision a string": (p) => (p.state.revision = "12"),
  "state.errors missing": (p) => delete p.state.errors,
};

/** The log as written, except that every snapshot read back is damaged by `damage`. */
function damaging(log: EventLog, damage: Damage): EventLog {
  const read = async (stream: string, which?: "latest" | "base"): Promise<Snapshot | undefined> => {
    const s = await log.loadSnapshot(stream, which);
    if (!s) return s;
    const copy = structuredClone(s);
    damage(copy.state);
    return copy;
  };
  return Object.assign(Object.create(log), { loadSnapshot: read, close: async () => {} });
}

async function written(): Promise<{ log: EventLog; state: unknown; history: unknown }> {
  const log = memoryLog();
  const keep = Object.assign(Object.create(log), { close: async () => {} }) as EventLog;
  const store = new Store(keep, { snapshotEvery: 10 });
  const run = await store.stage("s").begin({ total: 40 });
  for (let i = 0; i < 35; i++) await run.done(i, { item: `item-${i}` });
  await run.pause("night");
  const state = await store.stage("s").state();
  const history = await store.stage("s").history();
  await store.close();
  assert.ok((await log.loadSnapshot("s"))!.revision > 0, "the fixture has a snapshot to damage");
  return { log, state, history };
}

for (const [name, damage] of Object.entries(damages)) {
  test(`a damaged snapshot (${name}) is ignored: state, history and list are rebuilt from the events`, async () => {
    const { log, state, history } = await written();
    const store = new Store(damaging(log, damage));
    assert.equal(await store.stage("s").state(), state);
    assert.equal(await store.stage("s").history(), history);
    assert.equal((await store.stages()).map((s) => s.state), [state]);
    await store.close();
  });
}

test("a damaged base snapshot of a compacted stage is CKPT_CORRUPT, not a TypeError", async () => {
  const log = memoryLog();
  const keep = Object.assign(Object.create(log), { close: async () => {} }) as EventLog;
  const store = new Store(keep, { snapshotEvery: 10 });
  const run = await store.stage("s").begin({ total: 40 });
  for (let i = 0; i < 35; i++) await run.done(i);
  await run.complete();
  const report = await store.compact({ maxEvents: 5, minEvents: 5 });
  await store.close();
  assert.ok((await log.info("s"))!.first > 0, `the stage was compacted: ${JSON.stringify(report)}`);
  const damaged = new Store(damaging(log, damages["history.runs missing"]!));
  const err = await damaged.stage("s").state().then(() => undefined, (e) => e);
  assert.instance(err, CkptError);
  assert.is(err.code, "CKPT_CORRUPT");
  await damaged.close();
});

test.run();
