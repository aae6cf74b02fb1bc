/**
 * The floor under the 64-worker row: one durable commit of each store alone, no ckpt. LevelDB's
 * synchronous batch (one page of 64 events' size and a head, as ckpt writes it), SQLite FULL's
 * transaction of 64 rows (baseline B's commit), and one O_DSYNC positional write into a
 * preallocated file (the segment log's commit), on the main thread and on the threadpool. When
 * LevelDB's bare commit costs what SQLite's does, no checkpoint store on LevelDB can pass SQLite.
 * Rounds alternate the subjects; figures are µs per commit, median [min–max] of the rounds.
 *
 *   npx tsx bench/raw-commit.ts [--rounds 5] [--ms 1000]
 */
import { Level } from "level";
import fs from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { openSqlite } from "./baseline-sqlite.ts";
import { spread } from "./stats.ts";
import { removeDir, tempDir } from "./tmp.ts";

const arg = (name: string, d: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? d : Number(process.argv[i + 1]);
};
const rounds = arg("rounds", 5);
const ms = arg("ms", 1000);

/** ~64 events' page in ckpt's column form on disk is a few hundred bytes; 700 is generous. */
const PAGE = new Uint8Array(700).fill(7);
const HEAD = new Uint8Array(40).fill(3);

async function timeLoop(commit: (n: number) => unknown): Promise<number> {
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < ms) {
    await commit(n);
    n++;
  }
  return ((performance.now() - t0) * 1000) / n;
}

const dir = tempDir("raw-commit");
const level = new Level<string, Uint8Array>(join(dir, "level"), {
  keyEncoding: "utf8",
  valueEncoding: "view",
});
await level.open();
const sqlite = await openSqlite();
const SEGMENT = 64 << 20;
const file = join(dir, "segment");
fs.writeFileSync(file, new Uint8Array(SEGMENT));
const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_DSYNC);
const frame = new Uint8Array(PAGE.length + HEAD.length);
const at = (n: number) => (n * frame.length) % (SEGMENT - frame.length);

const subjects: Array<[string, (n: number) => unknown]> = [
  [
    "LevelDB: batch of a page + a head, sync",
    (n) =>
      level.batch([
        { type: "put", key: `e!s\0${String(n).padStart(12, "0")}`, value: PAGE },
        { type: "put", key: "h!s", value: HEAD },
      ], { sync: true }),
  ],
  [
    "SQLite FULL: transaction of 64 rows",
    (n) => sqlite.insertMany(Array.from({ length: 64 }, (_, k) => n * 64 + k), Date.now()),
  ],
  ["O_DSYNC pwrite, main thread", (n) => fs.writeSync(fd, frame, 0, frame.length, at(n))],
  [
    "O_DSYNC pwrite, threadpool",
    (n) =>
      new Promise<void>((resolve, reject) =>
        fs.write(fd, frame, 0, frame.length, at(n), (err) => (err ? reject(err) : resolve()))
      ),
  ],
];

const results = new Map<string, number[]>(subjects.map(([name]) => [name, []]));
for (let r = 0; r < rounds; r++) {
  for (let k = 0; k < subjects.length; k++) {
    const [name, commit] = subjects[(k + r) % subjects.length]!;
    results.get(name)!.push(await timeLoop(commit));
  }
  process.stderr.write(`raw-commit: round ${r + 1}/${rounds}\n`);
}
await level.close();
sqlite.close();
fs.closeSync(fd);
removeDir(dir);

console.log(`one durable commit, µs (median [min–max] of ${rounds} rounds of ${ms} ms)`);
for (const [name, xs] of results) {
  const s = spread(xs);
  console.log(
    `${name.padEnd(44)} ${s.median.toFixed(0).padStart(5)} [${s.min.toFixed(0)}–${
      s.max.toFixed(0)
    }]`,
  );
}
