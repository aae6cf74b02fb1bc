/**
 * Resume cost does not grow with history: reopening a 1,000,000-event stage reads only the tail
 * after its snapshot.
 */
import process from "node:process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { levelLog } from "../../adapters/level.ts";
import { Store } from "../../core/store.ts";
import { countingLog } from "../helpers/counting-log.ts";
import { tempDir } from "../helpers/tmp.ts";

const EVENTS = Number(process.env.CKPT_RESUME_EVENTS ?? 1_000_000);

test(`reopening after ${EVENTS.toLocaleString("en-US")} events reads no more than the events after the last snapshot`, async () => {
  const dir = await tempDir();
  const snapshotEvery = 10_000;
  let store = new Store(await levelLog(dir.path, { durability: "os" }), { snapshotEvery });
  const run = await store.stage("big").begin({ total: EVENTS });
  for (let i = 0; i < EVENTS - 1; i++) {
    const wait = run.mark(i);
    if (wait) await wait;
  }
  await run.flush();
  await run.close();
  await store.log.close();
  const { log, counts } = countingLog(await levelLog(dir.path));
  store = new Store(log, { snapshotEvery });
  const state = await store.stage("big").state();
  assert.is(state.counters.processed, EVENTS - 1);
  assert.is(state.resume.watermark, EVENTS - 1);
  assert.ok(state.revision >= EVENTS - 1);
  assert.ok(
    counts.eventsRead <= snapshotEvery,
    `read ${counts.eventsRead} events to resume ${state.revision + 1}`,
  );
  assert.ok(counts.eventsRead < state.revision / 50);
  await store.close();
  await dir.remove();
});

test.run();
