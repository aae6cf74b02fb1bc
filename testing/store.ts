/** The library-level half of the contract: a pipeline resumes correctly on any adapter. */
import * as assert from "uvu/assert";
import type { Store } from "../core/store.ts";

export async function storeContract(store: Store, reopen?: () => Promise<Store>): Promise<void> {
  const stage = store.stage("pipeline");
  let run = await stage.begin({ total: 40, config: { v: 1 } });
  await Promise.all(
    Array.from({ length: 20 }, (_, i) => run.done(i, { item: `item-${i}`, cost: 0.5 })),
  );
  await run.done(30, { ok: false, error: "bad" });
  await run.unit("org/repo:pulls").page(1, { records: 10 });
  await run.pause("test");
  await run.close();
  if (reopen) {
    // close the store and open it again
    await store.close();
    store = await reopen();
  }
  const again = store.stage("pipeline");
  run = await again.begin({ total: 40, config: { v: 1 } });
  assert.is(run.resumed.from, "paused");
  assert.is(run.resumed.skipped, 21);
  for (let i = 0; i < 40; i++) if (!run.isDone(i)) await run.done(i);
  assert.is(run.unit("org/repo:pulls").nextPage(), 2);
  await run.complete({ finished: true });
  const s = await again.state();
  assert.is(s.status, "completed");
  assert.is(s.counters.processed, 40);
  assert.is(s.counters.failed, 1);
  assert.is(s.counters.successful, 39);
  assert.is(s.cost, 10);
  assert.equal(s.metadata, { finished: true });
  assert.is(s.resume.watermark, 40);
  const h = await again.history();
  assert.equal(h.runs.map((r) => r.outcome), ["paused", "completed"]);
  assert.equal(h.runs.map((r) => r.processed), [21, 19]);
  let n = 0;
  let last = -1;
  for await (const e of again.replay()) {
    assert.is(e.revision, last + 1);
    last = e.revision;
    n++;
  }
  assert.is(last, s.revision);
  assert.is(n, s.revision + 1);
  const list = await store.stages();
  assert.equal(list.map((x) => [x.stage, x.status]), [["pipeline", "completed"]]);
  await store.close();
}
