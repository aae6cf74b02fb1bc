/**
 * Serves the dashboard: `/` is its page, `/dashboard/*` its script, styles and uPlot. The files sit
 * in server/dashboard/ and are found relative to this module at run time, so they work from the
 * sources, from a compiled dist/ (which copies the folder) and on Deno; uPlot comes from its npm
 * package, found the way Node resolves a dependency. Each file is read once, gzipped once, and sent
 * with an ETag; the page needs no token (it holds no data) and asks for one when the API does.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Hono } from "hono";
import type { AppEnv } from "./route.ts";

/** The dashboard's folder (engineers packaging dist/ copy it beside the compiled module). */
export const DASHBOARD_DIR = fileURLToPath(new URL("./dashboard/", import.meta.url));

interface Asset {
  type: string;
  /** Where the bytes come from: a file in DASHBOARD_DIR, or a file of an npm package. */
  file: string;
  pkg?: string;
}

export const ASSETS: Readonly<Record<string, Asset>> = {
  "/": { type: "text/html; charset=utf-8", file: "index.html" },
  "/dashboard/app.js": { type: "text/javascript; charset=utf-8", file: "app.js" },
  "/dashboard/style.css": { type: "text/css; charset=utf-8", file: "style.css" },
  "/dashboard/uplot.js": {
    type: "text/javascript; charset=utf-8",
    file: "dist/uPlot.iife.min.js",
    pkg: "uplot",
  },
  "/dashboard/uplot.css": {
    type: "text/css; charset=utf-8",
    file: "dist/uPlot.min.css",
    pkg: "uplot",
  },
};

// Scripts and styles from this origin only, so a stage name or error message can never run as code.
const HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

interface Loaded {
  plain: Uint8Array;
  gzip: Uint8Array;
  etag: string;
}

/**
 * Node's lookup for a dependency: node_modules/<pkg> in this folder or the nearest one above it.
 */
export function packageDir(
  pkg: string,
  from = dirname(fileURLToPath(import.meta.url)),
): string | undefined {
  for (let dir = from;; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", pkg);
    if (existsSync(join(candidate, "package.json"))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

async function load(a: Asset): Promise<Loaded> {
  let path = join(DASHBOARD_DIR, a.file);
  if (a.pkg) {
    const dir = packageDir(a.pkg);
    if (!dir) {
      throw new Error(
        `the dashboard needs the npm package "${a.pkg}", which is not installed (npm install ${a.pkg})`,
      );
    }
    path = join(dir, a.file);
  }
  const plain = new Uint8Array(await readFile(path));
  const gzip = new Uint8Array(
    await new Response(
      new Blob([plain as BlobPart]).stream().pipeThrough(new CompressionStream("gzip")),
    ).arrayBuffer(),
  );
  const etag = `"${createHash("sha256").update(plain).digest("hex").slice(0, 16)}"`;
  return { plain, gzip, etag };
}

/** Adds the dashboard's routes to `app` (GET and HEAD of `/` and each asset). */
export function mountDashboard(app: Hono<AppEnv>): void {
  const cache = new Map<string, Promise<Loaded>>();
  for (const [path, asset] of Object.entries(ASSETS)) {
    app.get(path, async (c) => {
      c.set("route", path);
      let loading = cache.get(path);
      if (!loading) cache.set(path, loading = load(asset));
      const file = await loading.catch((err) => {
        cache.delete(path); // a package installed later is picked up on the next request
        throw err;
      });
      const headers: Record<string, string> = {
        ...HEADERS,
        "content-type": asset.type,
        etag: file.etag,
        vary: "accept-encoding",
      };
      if (c.req.header("if-none-match") === file.etag) return c.body(null, 304, headers);
      const gzip = /\bgzip\b/.test(c.req.header("accept-encoding") ?? "");
      if (gzip) headers["content-encoding"] = "gzip";
      return c.body((gzip ? file.gzip : file.plain) as Uint8Array<ArrayBuffer>, 200, headers);
    });
  }
}
