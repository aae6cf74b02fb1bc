/**
 * Small real file systems for disk-full tests: a tmpfs, or an ext4 image on a loop device. Mounting
 * needs root (CI runs as root); every mount is unmounted and its folder removed, whatever the test
 * did.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type FsKind = "tmpfs" | "ext4";

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr || r.error?.message}`,
    );
  }
}

/** Mounts a fresh `kind` file system of `kib` KiB, runs `fn` with its folder, then unmounts it. */
export async function withSmallDisk<T>(
  kind: FsKind,
  kib: number,
  fn: (dir: string) => Promise<T>,
): Promise<T> {
  const base = await mkdtemp(join(tmpdir(), `ckpt-${kind}-`));
  const dir = join(base, "mnt");
  const image = join(base, "disk.img");
  await writeFile(join(base, ".keep"), "");
  sh("mkdir", [dir]);
  let mounted = false;
  try {
    if (kind === "tmpfs") {
      sh("mount", ["-t", "tmpfs", "-o", `size=${kib}k`, "tmpfs", dir]);
    } else {
      sh("truncate", ["-s", `${kib}K`, image]);
      sh("mkfs.ext4", ["-q", "-F", "-b", "1024", "-m", "0", image]);
      sh("mount", ["-o", "loop", image, dir]);
    }
    mounted = true;
    return await fn(dir);
  } finally {
    if (mounted) {
      const r = spawnSync("umount", [dir]);
      if (r.status !== 0) spawnSync("umount", ["-l", dir]);
    }
    await rm(base, { recursive: true, force: true });
  }
}
