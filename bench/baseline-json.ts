/**
 * Baseline A, what pipeline authors write today: the whole ~1 KB JSON state to a temp file, fsync,
 * rename, per update.
 */
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Subject } from "./subject.ts";
import { removeDir, tempDir } from "./tmp.ts";

/**
 * A typical checkpoint: counters, resume point, recent errors and metadata, padded to about 1 KB.
 */
function initialState() {
  return {
    stage: "fetch-pages",
    status: "running",
    total: 1_000_000_000,
    counters: { processed: 0, successful: 0, failed: 0, skipped: 0 },
    resume: { lastIndex: -1, lastItem: "", watermark: 0 },
    startedAt: Date.now(),
    updatedAt: Date.now(),
    cost: 0,
    input: "3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea",
    config: {
      model: "gpt-x",
      concurrency: 64,
      retries: 5,
      timeoutMs: 30_000,
      outDir: "./out/pages",
    },
    errors: Array.from(
      { length: 4 },
      (_, i) => ({
        index: i * 97,
        message: `HTTP 429 Too Many Requests (retry ${i})`,
        at: Date.now(),
      }),
    ),
    metadata: { host: "worker-01", pid: 4242, note: "x".repeat(240) },
  };
}

/**
 * Synchronous fs calls: the writes cannot overlap anyway (one file), and sync calls are this
 * pattern's fastest form.
 */
export function jsonFileSubject(): Subject {
  const dir = tempDir("json");
  const file = join(dir, "checkpoint.json");
  const tmp = file + ".tmp";
  const state = initialState();
  const bytes = new TextEncoder().encode(JSON.stringify(state)).length;
  return {
    label: "A: JSON file + fsync + rename",
    key: "baseline-json",
    update(i) {
      state.counters.processed++;
      state.counters.successful++;
      state.resume.lastIndex = i;
      state.resume.lastItem = `https://example.org/page/${i}`;
      state.updatedAt = Date.now();
      const fd = openSync(tmp, "w");
      try {
        writeSync(fd, JSON.stringify(state));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, file);
    },
    async close() {
      removeDir(dir);
      return { stateBytes: bytes };
    },
  };
}
