/**
 * SIGKILL crash trials (test/crash/trials.ts) on the preallocated-log experiment
 * (adapters/segments.ts): what it must survive before it could become an adapter.
 */
import { test } from "uvu";
import { crashTrials } from "./trials.ts";

crashTrials("segments");
crashTrials("segments-blocking");
test.run();
