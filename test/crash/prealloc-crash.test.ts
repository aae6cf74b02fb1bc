/**
 * SIGKILL crash trials (test/crash/trials.ts) on the preallocated-log experiment
 * (adapters/experimental/prealloc-log.ts): what it must survive before it could become an adapter.
 */
import { test } from "uvu";
import { crashTrials } from "./trials.ts";

crashTrials("prealloc");
crashTrials("prealloc-blocking");
test.run();
