/** SIGKILL crash trials (test/crash/trials.ts) on the default store, LevelDB. */
import { test } from "uvu";
import { crashTrials } from "./trials.ts";

crashTrials("level");
test.run();
