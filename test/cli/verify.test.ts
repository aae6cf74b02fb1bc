/**
 * `ckpt verify` over real LevelDB: a sound store passes; a gap, an undecodable event, a bad event
 * or a wrong snapshot fails, named.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { levelLog } from "../../adapters/level.ts";
import { CkptError, ErrorCode } from "../../core/errors.ts";
import type { EventLog, RecordedEvent } from "../../core/log.ts";
import type { Projection } from "../../core/projection.ts";
import { Store } from "../../core/store.ts";
import { cli, populate, tempDir } from "./helpers.ts";

let dir: { path: string; remove(): Promise<void> };
let n = 0;
async function fresh(): Promise<string> {
  const path = `${dir.path}/s${n++}`;
  await populate(path);
  return path;
}

/**
 * The real LevelDB log with one stage's reads altered, to play a damaged store without depending on
 * the key layout.
 */
async function damaged(
  path: string,
  stage: string,
  alter: (r: RecordedEvent) => RecordedEvent | "skip" | "throw",
): Promise<Store> {
  const log = await levelLog(path);
  const wrapped: EventLog = Object.create(log);
  wrapped.read = async function* (stream, options) {
    for await (const r of log.read(stream, options)) {
      const a = stream === stage ? alter(r) : r;
      if (a === "skip") continue;
      if (a === "throw") {
        throw new CkptError(
          ErrorCode.CORRUPT,
          `Cannot decode events of "${stream}" at ${r.revision}`,
        );
      }
      yield a;
    }
  };
  return new Store(wrapped);
}

test.before(async () => {
  dir = await tempDir();
});
test.after(() => dir.remove());

test("a sound store verifies: every stage ok, exit 0", async () => {
  const s = await fresh();
  const r = await cli(["verify", "--store", s]);
  assert.is(r.code, 0, r.out + r.err);
  assert.match(r.out, /^ok    fetch  104 events \(revisions 0–103\), snapshot at 103 matches$/m);
  assert.match(r.out, /^ok    parse  84 events/m);
  assert.match(r.out, "Verified 3 stages: 3 ok.");
  const one = JSON.parse((await cli(["verify", "load", "--json", "--store", s])).out);
  assert.equal(one, {
    ok: true,
    stages: [{
      stage: "load",
      ok: true,
      problem: null,
      notes: [],
      events: 3,
      first: 0,
      head: 2,
      snapshotRevision: 2,
    }],
  });
});

test("a compacted store verifies from its base snapshot", async () => {
  const s = await fresh();
  assert.is((await cli(["compact", "--keep", "10", "--min-keep", "5", "--store", s])).code, 0);
  const r = await cli(["verify", "fetch", "--store", s]);
  assert.is(r.code, 0, r.out);
  assert.match(r.out, "10 events (revisions 94–103)");
});

test("a missing revision fails, naming it", async () => {
  const store = await damaged(
    await fresh(),
    "fetch",
    (r) => (r.revision === 40 || r.revision === 41 ? "skip" : r),
  );
  const r = await cli(["verify"], { store });
  await store.close();
  assert.is(r.code, 1);
  assert.match(r.out, /^FAIL  fetch  revision 40–41 missing \(the next stored event is 42\)$/m);
  assert.match(r.out, /^ok    load/m);
  assert.match(r.out, "Verified 3 stages: 2 ok, 1 with problems.");
});

test("an undecodable event, an event off its schema, and an impossible transition each fail", async () => {
  const cases: [(r: RecordedEvent) => RecordedEvent | "skip" | "throw", RegExp][] = [
    [
      (r) => (r.revision === 7 ? "throw" : r),
      /FAIL  fetch  cannot read revision 7: CKPT_CORRUPT Cannot decode/,
    ],
    [
      (r) => (r.revision === 9 ? { ...r, event: { ...r.event, v: 7 } as never } : r),
      /FAIL  fetch  revision 9 does not match the event schema/,
    ],
    [
      (r) => (r.revision === 3 ? { ...r, event: { type: "completed", v: 1, at: r.event.at } } : r),
      /revision 4 \(item\) does not replay: Stage "fetch" is completed/,
    ],
  ];
  for (const [alter, re] of cases) {
    const store = await damaged(await fresh(), "fetch", alter);
    const r = await cli(["verify", "fetch"], { store });
    await store.close();
    assert.is(r.code, 1);
    assert.match(r.out, re);
  }
});

test("a snapshot that disagrees with a replay from scratch fails, naming the field", async () => {
  const s = await fresh();
  const log = await levelLog(s);
  const snap = (await log.loadSnapshot("fetch"))!;
  const p = snap.state as Projection;
  p.state.counters.processed += 1;
  await log.saveSnapshot("fetch", snap);
  const store = new Store(log);
  const r = await cli(["verify", "--json"], { store });
  await store.close();
  assert.is(r.code, 1);
  const j = JSON.parse(r.out);
  assert.is(j.ok, false);
  assert.is(
    j.stages[0].problem,
    "the snapshot at revision 103 differs from a replay from scratch: state.counters.processed: 101 vs 100",
  );
  assert.is(j.stages[1].ok, true);
});

test("verify of a missing stage is CKPT_NOT_FOUND", async () => {
  const r = await cli(["verify", "nope", "--store", await fresh()]);
  assert.is(r.code, 1);
  assert.match(r.err, 'error CKPT_NOT_FOUND: No stage "nope"');
});

test.run();
