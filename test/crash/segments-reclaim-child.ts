/**
 * The writer segments-reclaim.test.ts kills: appends to "keep" (event index = revision) and to
 * short-lived "junk-<n>" streams it deletes again, and truncates "keep" now and then, on small
 * segments, so space reclaims (generation rewrites) run all the time. Prints "ack <head>",
 * "del <stream>" and "trunc <first>" once each call has returned.
 */
import process from "node:process";
import { segmentLog } from "../../adapters/segments.ts";

const path = process.argv[2]!;
const log = await segmentLog(path, { segmentBytes: 64 << 10 });
const ev = (i: number, pad = "") => ({
  type: "item" as const,
  v: 1 as const,
  at: 1,
  index: i,
  outcome: "ok" as const,
  item: `keep-${i}${pad}`,
});
let head = (await log.info("keep"))?.head ?? -1;
const old = (await log.streams({ prefix: "junk-" })).map((s) => s.stream);
process.stdout.write("ready\n");
for (const s of old) {
  await log.delete(s);
  process.stdout.write(`del ${s}\n`);
}
for (let round = 0;; round++) {
  const batch = Array.from({ length: 10 }, (_, k) => ev(head + 1 + k));
  head =
    (await log.append("keep", batch, { expectedRevision: head < 0 ? "no_stream" : head })).head;
  process.stdout.write(`ack ${head}\n`);
  const junk = `junk-${process.pid}-${round}`;
  await log.append(junk, Array.from({ length: 20 }, (_, k) => ev(k, "x".repeat(200))), {
    expectedRevision: "no_stream",
  });
  await log.delete(junk);
  process.stdout.write(`del ${junk}\n`);
  if (round % 7 === 6 && head > 40) {
    const to = head - 30;
    await log.truncateBefore("keep", to, {
      revision: to - 1,
      version: 1,
      state: { upTo: to - 1 },
    } as never);
    process.stdout.write(`trunc ${to}\n`);
  }
}
