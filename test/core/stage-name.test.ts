/**
 * checkStageName keeps the names it found valid (a log checks its stage's name on every append):
 * the kept verdicts never let a bad name through, whatever was checked before and however many.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { checkStageName } from "../../core/events.ts";
import { isCkptError } from "../../core/errors.ts";

const refused = (name: unknown) => {
  try {
    checkStageName(name);
  } catch (err) {
    return isCkptError(err, "CKPT_INVALID");
  }
  return false;
};

test("valid names pass again and again; near misses of kept names are still refused", () => {
  for (let k = 0; k < 3; k++) assert.is(checkStageName("a.b"), "a.b");
  for (const bad of ["a..b", ".a.b", "a.b/", "a b", "", "x".repeat(201), 7, null, ["a.b"]]) {
    assert.ok(refused(bad), JSON.stringify(bad));
  }
});

test("past the number of kept names, every name still gets the schema's verdict", () => {
  for (let i = 0; i < 2500; i++) assert.is(checkStageName(`stage-${i}`), `stage-${i}`);
  for (let i = 0; i < 2500; i += 97) assert.is(checkStageName(`stage-${i}`), `stage-${i}`);
  assert.ok(refused("-stage-1"));
  assert.ok(refused("stage-1.."));
});

test.run();
