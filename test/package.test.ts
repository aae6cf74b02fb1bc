/** Locks the public surface: an export added or removed shows up in this diff. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Stage } from "../core/stage.ts";
import { Store } from "../core/store.ts";
import * as ckpt from "../mod.ts";

test("mod.ts exports exactly this", () => {
  assert.equal(Object.keys(ckpt).sort(), [
    "CkptError",
    "ErrorCode",
    "Status",
    "evolve",
    "handleSignals",
    "initialState",
    "isCkptError",
    "isDone",
    "levelLog",
    "memoryLog",
    "open",
    "parseDuration",
    "progressOf",
    "shutdown",
  ]);
});

test("every error code is CKPT_ prefixed and unique", () => {
  const codes = Object.values(ckpt.ErrorCode);
  assert.ok(codes.every((c) => c.startsWith("CKPT_")));
  assert.is(new Set(codes).size, codes.length);
});

test("Store and Stage prototype methods (TS-private ones included)", () => {
  const methods = (c: { prototype: object }) => Object.getOwnPropertyNames(c.prototype).filter((n) => n !== "constructor" && !n.startsWith("_")).sort();
  assert.equal(methods(Store), ["activeRuns", "checkOpen", "close", "closed", "compact", "flush", "stage", "stages", "writer"].sort());
  assert.equal(methods(Stage), ["begin", "delete", "exists", "fingerprint", "history", "joinRun", "reopenInvalid", "replay", "reset", "start", "state", "watch"].sort());
});

test.run();
