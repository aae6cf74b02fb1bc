/**
 * Compaction, TTL deletion and delete racing a run: whatever the log acknowledged stays, the stage
 * always loads, and a delete or truncate decided on a stale read changes nothing (CKPT_CONFLICT).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { levelLog } from "../../adapters/level.ts";
import { memoryLog } from "../../adapters/memory.ts";
import type { EventLog } from "../../core/log.ts";
import type { Run } from "../../core/run.ts";
import { isDone } from "../../core/state.ts";
import { Store } from "../../core/store.ts";
import { manualClock } from "../helpers/manual-clock.ts";
import { plain } from "../helpers/plain-errors.ts";
import { tempDir } from "../helpers/tmp.ts";

interface Fixture {
  log: EventLog;
  reopen: () => Promise<EventLog>;
  cleanup: () => Promise<void>;
}

const logs: Array<[string, () => Promise<Fixture>]> = [
  [
    "memory",
    async () => {
      const log = memoryLog();
      // Nothing survives a memory log's close, so "reopen" is a fresh Store over the same log.
      return {
        log: { ...log, close: async () => {} },
        reopen: async () => log,
        cleanup: async () => {},
      };
    },
  ],
  [
    "level",
    async () => {
      const dir = await tempDir();
      return {
        log: await levelLog(dir.path),
        reopen: () => levelLog(dir.path),
        cleanup: dir.remove,
      };
    },
  ],
];

/**
 * How many microtask turns the racing begin() waits before it starts: moves it across compaction's
 * steps.
 */
const DELAYS = [0, 1, 2, 3, 5, 8, 13, 40];

for (const [name, make] of logs) {
  test(
    `${name}: a TTL deletion overlapping begin() + done() never deletes acknowledged events`,
    plain(async () => {
      for (const delay of DELAYS) {
        const fx = await make();
        const clock = manualClock();
        const store = new Store(fx.log, { clock });
        const stage = store.stage("s");
        const first = await stage.begin({ total: 5 });
        await first.done(0);
        await first.complete();
        clock.advance(5); // idle past the 1 ms TTL

        let run: Run | undefined;
        const acknowledged: number[] = [];
        let work: Promise<void> | undefined;
        await store.compact({ stageTtlMs: 1 }, {
          onProgress: () => {
            work = (async () => {
              for (let k = 0; k < delay; k++) await Promise.resolve();
              run = await stage.begin({ total: 5 });
              for (const i of [1, 2, 3]) {
                await run.done(i);
                acknowledged.push(i);
              }
            })();
          },
        });
        await work;
        assert.equal(acknowledged, [1, 2, 3], `delay ${delay}: every done() resolved`);
        await run!.close();
        await store.close();
        const again = new Store(await fx.reopen());
        const reloaded = await again.stage("s").state(); // rejected with CKPT_CORRUPT before the fix
        assert.is(reloaded.status, "running", `delay ${delay}: run.started survived`);
        for (const i of acknowledged) {
          assert.ok(isDone(reloaded, i), `delay ${delay}: item ${i} survived`);
        }
        await again.close();
        await fx.cleanup();
      }
    }),
  );

  test(
    `${name}: compaction never truncates a stage whose head moved since it decided`,
    plain(async () => {
      const fx = await make();
      const store = new Store(fx.log);
      const run = await store.stage("t").begin();
      for (let i = 0; i < 50; i++) await run.done(i);
      await run.pause();
      // A delete or truncate expecting an old head is refused by the log itself, nothing removed.
      const head = (await fx.log.info("t"))!.head;
      for (
        const change of [
          () => fx.log.delete("t", { expectedRevision: head - 1 }),
          () =>
            fx.log.truncateBefore("t", 10, { revision: 9, version: 1, state: {} }, {
              expectedRevision: head - 1,
            }),
          () => fx.log.delete("t", { expectedRevision: "no_stream" }),
        ]
      ) {
        const err = await change().then(() => undefined, (e: unknown) => e);
        assert.is((err as { code?: string })?.code, "CKPT_CONFLICT");
        assert.equal(await fx.log.info("t"), await fx.log.info("t"));
        assert.is((await fx.log.info("t"))!.first, 0, "nothing truncated");
        assert.is((await fx.log.info("t"))!.head, head, "nothing deleted");
      }
      await store.close();
      await fx.cleanup();
    }),
  );

  test(
    `${name}: stage.delete() waits for the writer and takes queued updates down with a coded error`,
    plain(async () => {
      const fx = await make();
      const store = new Store(fx.log);
      const stage = store.stage("d");
      const run = await stage.begin();
      await run.done(0);
      await run.pause();
      await run.close();
      const deleting = stage.delete();
      const begun = stage.begin(); // queued while the delete runs: decided again on the empty stage
      await deleting;
      const again = await begun;
      assert.is(again.resumed.from, "initialized");
      await again.done(7);
      await again.close();
      const st = await stage.state();
      assert.ok(isDone(st, 7));
      assert.not.ok(isDone(st, 0));
      await store.close();
      await fx.cleanup();
    }),
  );
}

test.run();
