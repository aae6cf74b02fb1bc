/**
 * Temporary folders for the bench (removed on exit, even after a failure) and their size on disk.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const made = new Set<string>();

export function tempDir(prefix: string): string {
  const path = mkdtempSync(join(tmpdir(), `ckpt-bench-${prefix}-`));
  made.add(path);
  return path;
}

export function removeDir(path: string): void {
  rmSync(path, { recursive: true, force: true });
  made.delete(path);
}

export function removeAll(): void {
  for (const p of made) removeDir(p);
}

/** Apparent bytes of every file under `path` (what `du -sb` prints). */
export function du(path: string): number {
  let n = 0;
  for (const name of readdirSync(path)) {
    const p = join(path, name);
    const s = statSync(p);
    n += s.isDirectory() ? du(p) : s.size;
  }
  return n;
}
