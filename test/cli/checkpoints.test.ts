/**
 * State checkpoints in the CLI: `show` lists the newest, `replay` shows each, `compact
 * --keep-checkpoints` trims them.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { open } from "../../mod.ts";
import { cli, tempDir } from "./helpers.ts";

test("show, replay and compact --keep-checkpoints", async () => {
  const dir = await tempDir();
  const store = `${dir.path}/store`;
  try {
    const s = await open({ path: store });
    const run = await s.stage("train").begin();
    for (let step = 0; step < 7; step++) {
      await run.checkpoint({ step }, { step, metadata: { loss: step } });
    }
    await run.pause();
    await s.close();
    const show = await cli(["show", "train", "--store", store]);
    assert.is(show.code, 0, show.err);
    assert.match(show.out, /State checkpoints \(newest 5/);
    assert.match(show.out, /\n\s+7\s+6\s+.*\{"loss":6\}/); // revision 7 is step 6, the latest
    const json = JSON.parse((await cli(["show", "train", "--json", "--store", store])).out) as {
      checkpoints: { step: number }[];
    };
    assert.equal(json.checkpoints.map((c) => c.step), [6, 5, 4, 3, 2]);
    const replay = await cli(["replay", "train", "--store", store]);
    assert.is((replay.out.match(/checkpoint\s+step=\d/g) ?? []).length, 7);
    const compact = await cli([
      "compact",
      "--keep-checkpoints",
      "2",
      "--min-keep",
      "0",
      "--store",
      store,
    ]);
    assert.is(compact.code, 0, compact.err);
    const after = JSON.parse((await cli(["show", "train", "--json", "--store", store])).out) as {
      checkpoints: { step: number }[];
    };
    assert.equal(after.checkpoints.map((c) => c.step), [6, 5]);
    const bad = await cli(["compact", "--keep-checkpoints", "0", "--store", store]);
    assert.is.not(bad.code, 0);
    assert.match(bad.err, /keepCheckpoints must be a positive integer/);
  } finally {
    await dir.remove();
  }
});

test.run();
