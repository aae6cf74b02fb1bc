#!/usr/bin/env node
/**
 * `npm run build` (and `prepack`): compiles the entry points package.json names (its `exports` and
 * `bin`) and everything they import into dist/ as ESM JavaScript + .d.ts + source maps, with tsc's
 * rewriteRelativeImportExtensions turning the sources' `./x.ts` imports into `./x.js`. Then copies
 * the sidecar's non-code files (server/**, e.g. a dashboard's assets) to the same place under
 * dist/, so code that finds them with `new URL("./dashboard/…", import.meta.url)` works from the
 * sources and from dist alike. A new subpath is one line in package.json's `exports`: its source is
 * found from the dist path.
 */
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

/** dist/a/b.js or dist/a/b.d.ts → a/b.ts */
const sourceOf = (distPath) => {
  const m = /^\.\/dist\/(.+?)(\.d\.ts|\.js)$/.exec(distPath);
  if (!m) throw new Error(`build: ${distPath} is not under ./dist/ (package.json exports/bin)`);
  return `${m[1]}.ts`;
};
const targets = [
  ...Object.entries(pkg.exports).filter(([k]) => k !== "./package.json").flatMap(([, v]) =>
    Object.values(v)
  ),
  ...Object.values(pkg.bin),
];
const entries = [...new Set(targets.map(sourceOf))].sort();

rmSync(join(root, "dist"), { recursive: true, force: true });
const work = mkdtempSync(join(tmpdir(), "ckpt-build-"));
try {
  // A throwaway config: the repo's compiler options, only these roots, emit on. Paths are absolute
  // because it lives in a temp folder.
  writeFileSync(
    join(work, "tsconfig.json"),
    JSON.stringify({
      extends: join(root, "tsconfig.json"),
      compilerOptions: {
        noEmit: false,
        allowImportingTsExtensions: false,
        rewriteRelativeImportExtensions: true,
        declaration: true,
        sourceMap: true,
        inlineSources: true,
        outDir: join(root, "dist"),
        rootDir: root,
        typeRoots: [join(root, "node_modules/@types")],
      },
      include: [],
      files: entries.map((e) => join(root, e)),
    }),
  );
  const tsc = spawnSync(process.execPath, [
    join(root, "node_modules/typescript/bin/tsc"),
    "-p",
    join(work, "tsconfig.json"),
  ], { stdio: ["ignore", 2, 2] });
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
} finally {
  rmSync(work, { recursive: true, force: true });
}

function copyAssets(dir) {
  for (const name of readdirSync(join(root, dir))) {
    const rel = join(dir, name);
    if (statSync(join(root, rel)).isDirectory()) copyAssets(rel);
    else if (!name.endsWith(".ts") && name !== "bin.mjs" && name !== "README.md") { // the folder header is for readers of the repo
      mkdirSync(dirname(join(root, "dist", rel)), { recursive: true });
      copyFileSync(join(root, rel), join(root, "dist", rel));
    }
  }
}
copyAssets("server");
for (const bin of Object.values(pkg.bin)) chmodSync(join(root, bin), 0o755);
console.error(
  `build: ${entries.length} entry points → ${
    relative(process.cwd(), join(root, "dist")) || "dist"
  }/`,
);
