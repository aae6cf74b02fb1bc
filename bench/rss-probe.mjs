/**
 * Loaded with `node --import`: on exit, appends this process's peak RSS (bytes) to
 * $CKPT_BENCH_RSS_FILE.
 */
import { appendFileSync } from "node:fs";
import process from "node:process";

process.on(
  "exit",
  () =>
    appendFileSync(process.env.CKPT_BENCH_RSS_FILE, `${process.resourceUsage().maxRSS * 1024}\n`),
);
