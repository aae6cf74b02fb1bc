/** Locks the public surface: an export added or removed shows up in this diff. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as ckpt from "../mod.ts";

test("mod.ts exports exactly this", () => {
  assert.equal(Object.keys(ckpt).sort(), [
    "CkptError",
    "CkptEvent",
    "EVENT_TYPES",
    "ErrorCode",
    "REDUCER_VERSION",
    "Run",
    "Stage",
    "Status",
    "Store",
    "canonicalJson",
    "checkStageName",
    "configDigest",
    "connectHttpLog",
    "evolve",
    "handleSignals",
    "httpLog",
    "initialState",
    "isCkptError",
    "isDone",
    "levelLog",
    "memoryLog",
    "open",
    "parseDuration",
    "parseEvent",
    "progressOf",
    "sha256",
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
  assert.equal(methods(ckpt.Store), ["activeRuns", "checkOpen", "close", "closed", "compact", "flush", "stage", "stages", "writer"].sort());
  assert.equal(methods(ckpt.Stage), ["begin", "checkpoints", "delete", "exists", "fingerprint", "history", "joinRun", "latest", "reopenInvalid", "replay", "reset", "start", "state", "watch"].sort());
});

test.run();
