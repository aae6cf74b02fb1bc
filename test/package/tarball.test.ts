/**
 * The package as a user gets it: pack, install into a fresh project outside the repo, then use it
 * from plain Node (.mjs and .cjs), TypeScript (nodenext and bundler, skipLibCheck off), the bins
 * and Deno (npm:), and lint it with publint and arethetypeswrong. Runs on Node only (test/run.ts):
 * it drives Deno itself.
 */
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import process from "node:process";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { apiReport, REPORT } from "../../scripts/api-report.ts";
import { exec, installedProject, must, type Project, ROOT } from "./project.ts";
import { readmeSnippets } from "./readme.ts";

const test = suite("package");
const node = process.execPath;
const bin = (p: Project, name: string) => join(p.dir, "node_modules/.bin", name);
const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
const deno = join(ROOT, "node_modules/.bin/deno");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  version: string;
  exports: Record<string, unknown>;
};
let p: Project;

test.after(async () => {
  await p?.remove();
});

// A test rather than a before hook, so a failing pack or install prints why (uvu's hooks fail
// silently).
test("npm pack (prepack builds dist/) and npm install of the tarball into a fresh temp project", async () => {
  p = await installedProject();
  assert.ok(existsSync(join(p.dir, "node_modules/ckpt/package.json")));
});

test("the tarball holds the build, README and LICENSE, and no tests, bench, sources, fixtures or clients", () => {
  for (
    const f of [
      "package.json",
      "README.md",
      "LICENSE",
      "dist/mod.js",
      "dist/mod.d.ts",
      "dist/mod.js.map",
      "dist/cli/main.js",
      "dist/server/node.js",
      "dist/testing/index.js",
    ]
  ) {
    assert.ok(p.files.includes(f), `${f} missing from the tarball`);
  }
  const stray = p.files.filter((f) =>
    !f.startsWith("dist/") && !["package.json", "README.md", "LICENSE"].includes(f)
  );
  assert.equal(stray, []);
  assert.equal(
    p.files.filter((f) =>
      /(^|\/)(test|bench|fixtures|clients|examples)\/|\.test\.|(?<!\.d)\.ts$/.test(f)
    ),
    [],
  );
});

test("the shipped types match the committed API report (api/ckpt.api.d.ts)", () => {
  const shipped = apiReport(join(p.dir, "node_modules/ckpt"));
  const committed = readFileSync(REPORT, "utf8");
  if (shipped !== committed) {
    const a = shipped.split("\n");
    const b = committed.split("\n");
    const at = a.findIndex((line, i) => line !== b[i]);
    assert.unreachable(
      `the public types changed (first difference at line ${at + 1}: ${JSON.stringify(b[at])} → ${
        JSON.stringify(a[at])
      }). If that is intended, run \`npm run api:update\` and commit api/ckpt.api.d.ts.`,
    );
  }
});

test("installing pulls no tsx, esbuild or gRPC of its own (gRPC here only as the peer the consumer asked for)", () => {
  const top = readdirSync(join(p.dir, "node_modules"));
  assert.not.ok(top.includes("tsx"));
  assert.not.ok(top.includes("esbuild"));
  assert.not.ok(top.includes("typescript"));
});

test("msgpackr's native string extraction and LevelDB's binding load from prebuilds, with no install script run", async () => {
  // npm may skip dependencies' install scripts (npm 11 asks for them to be allowed):
  // msgpackr-extract and classic-level ship prebuilt binaries that load at run time
  // (node-gyp-build), so the fast path needs none.
  const r = await must(node, [
    "--input-type=module",
    "-e",
    "const m = await import('msgpackr'); console.log(JSON.stringify(m.isNativeAccelerationEnabled))",
  ], { cwd: p.dir });
  assert.is(r.stdout.trim(), "true", "msgpackr fell back to its JavaScript string reader");
  const modules = join(p.dir, "node_modules");
  assert.not.ok(
    existsSync(join(modules, "msgpackr-extract/build")),
    "msgpackr-extract was compiled here, not loaded from its prebuild",
  );
  assert.not.ok(
    existsSync(join(modules, "classic-level/build")),
    "classic-level was compiled here, not loaded from its prebuild",
  );
});

test(".mjs: imports ckpt and every subpath, runs begin/done/close/reopen/resume on LevelDB", async () => {
  const r = await must(node, ["pipeline.mjs", join(p.dir, "store-mjs")], { cwd: p.dir });
  const out = JSON.parse(r.stdout);
  assert.is(out.first, "initialized");
  assert.equal(out.resumed, { from: "paused", done: [true, true, true, false, false] });
  assert.is(out.status, "completed");
  assert.is(out.processed, 5);
  assert.equal(out.exported, {
    http: "function",
    eventstoredb: "function",
    postgres: "function",
    server: "function",
    testing: "function",
  });
});

test(".cjs: require('ckpt') and require('ckpt/http') work (Node's require(esm))", async () => {
  const r = await must(node, ["consumer.cjs"], { cwd: p.dir });
  assert.equal(JSON.parse(r.stdout), {
    status: "completed",
    code: "CKPT_NOT_FOUND",
    http: "function",
  });
  assert.is(r.stderr, "", "no ExperimentalWarning or other noise on this Node");
});

test("importing ckpt loads neither Hono nor gRPC; ckpt/server loads Hono, ckpt/eventstoredb gRPC", async () => {
  const loaded = async (spec: string) => {
    const trace = join(p.dir, `trace-${spec.replace(/\W/g, "_")}.txt`);
    await writeFile(trace, "");
    await must(node, [
      "--import",
      "./trace.mjs",
      "--input-type=module",
      "-e",
      `await import(${JSON.stringify(spec)})`,
    ], { cwd: p.dir, env: { CKPT_TRACE_FILE: trace } });
    return readFileSync(trace, "utf8").split("\n").filter(Boolean);
  };
  const heavy = (urls: string[], name: string) =>
    urls.some((u) => u.includes(`/node_modules/${name}/`));
  const core = await loaded("ckpt");
  assert.ok(heavy(core, "level"), "the trace saw level, so it works");
  for (
    const name of ["hono", "@hono/node-server", "@grpc/grpc-js", "@eventstore/db-client", "tsx"]
  ) assert.not.ok(heavy(core, name), `ckpt loaded ${name}`);
  assert.ok(heavy(await loaded("ckpt/server"), "hono"));
  assert.ok(heavy(await loaded("ckpt/eventstoredb"), "@eventstore/db-client"));
  const http = await loaded("ckpt/http");
  assert.not.ok(
    heavy(http, "hono") || heavy(http, "level"),
    "ckpt/http is the sidecar client alone",
  );
});

for (
  const [name, compilerOptions] of [
    ["nodenext", { module: "nodenext", moduleResolution: "nodenext" }],
    ["bundler", { module: "preserve", moduleResolution: "bundler" }],
  ] as const
) {
  test(`TypeScript consumer type-checks (${name}, skipLibCheck off, no allowImportingTsExtensions)`, async () => {
    const config = {
      compilerOptions: {
        ...compilerOptions,
        target: "es2022",
        strict: true,
        skipLibCheck: false,
        noEmit: true,
        types: ["node"],
      },
      files: ["consumer.ts"],
    };
    await writeFile(join(p.dir, `tsconfig.${name}.json`), JSON.stringify(config));
    await must(node, [tsc, "-p", `tsconfig.${name}.json`], { cwd: p.dir });
  });
}

test("TypeScript consumer of ckpt/eventstoredb type-checks (nodenext; skipLibCheck on for the client's own types)", async () => {
  const config = {
    compilerOptions: {
      module: "nodenext",
      moduleResolution: "nodenext",
      target: "es2022",
      strict: true,
      skipLibCheck: true,
      noEmit: true,
      types: ["node"],
    },
    files: ["consumer-eventstoredb.ts"],
  };
  await writeFile(join(p.dir, "tsconfig.eventstoredb.json"), JSON.stringify(config));
  await must(node, [tsc, "-p", "tsconfig.eventstoredb.json"], { cwd: p.dir });
});

test("the bins run the compiled JavaScript on plain Node", async () => {
  const v = await must(bin(p, "ckpt"), ["--version"], { cwd: p.dir });
  assert.is(v.stdout.trim(), `ckpt ${pkg.version}`);
  await must(node, ["pipeline.mjs", join(p.dir, "store-bin")], { cwd: p.dir });
  const list = JSON.parse(
    (await must(bin(p, "ckpt"), ["list", "--json", "--store", join(p.dir, "store-bin")], {
      cwd: p.dir,
    })).stdout,
  ) as { stage: string; status: string }[];
  assert.equal(list.map((s) => [s.stage, s.status]), [["fetch", "completed"]]);
  const help = await must(bin(p, "ckpt-server"), ["--help"], { cwd: p.dir });
  assert.match(help.stdout, /Usage: ckpt-server/);
  assert.match(
    readFileSync(join(p.dir, "node_modules/ckpt/dist/cli/main.js"), "utf8"),
    /^#!\/usr\/bin\/env node\n/,
  );
});

test("a segment log from the installed package: segmentLog and open('segments:…'), reopened, listed by the bin", async () => {
  const store = join(p.dir, "store-segments");
  await writeFile(
    join(p.dir, "segments.mjs"),
    `import { open, segmentLog } from "ckpt";
const [path] = process.argv.slice(2);
let store = await open({ path: "segments:" + path });
const run = await store.stage("fetch").begin({ total: 3 });
for (let i = 0; i < 3; i++) await run.done(i);
await run.complete();
await store.close();
store = await open({ log: await segmentLog(path) });
const state = await store.stage("fetch").state();
await store.close();
console.log(JSON.stringify({ status: state.status, processed: state.counters.processed }));
`,
  );
  const r = await must(node, ["segments.mjs", store], { cwd: p.dir });
  assert.equal(JSON.parse(r.stdout), { status: "completed", processed: 3 });
  assert.ok(existsSync(join(store, "SEGMENTS")), "a segment log on disk");
  const list = JSON.parse(
    (await must(bin(p, "ckpt"), ["list", "--json", "--store", store], { cwd: p.dir })).stdout,
  ) as { stage: string; status: string }[];
  assert.equal(list.map((s) => [s.stage, s.status]), [["fetch", "completed"]]);
});

test("the installed ckpt-server serves the dashboard (with uPlot) and the item lineage; ckpt item reads it", async () => {
  const store = join(p.dir, "store-bin"); // written by the bins test above: stage "fetch", completed
  const child = spawn(bin(p, "ckpt-server"), ["--store", store, "--port", "0"], {
    cwd: p.dir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(
        () => reject(new Error(`ckpt-server did not start: ${out}`)),
        60_000,
      );
      const seen = (d: Buffer) => {
        out += d;
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      };
      child.stdout.on("data", seen);
      child.stderr.on("data", seen);
      child.once("exit", (code) => reject(new Error(`ckpt-server exited ${code}: ${out}`)));
    });
    const page = await fetch(url + "/");
    assert.is(page.status, 200);
    assert.match(await page.text(), /<html/i);
    const chart = await fetch(url + "/dashboard/uplot.js");
    assert.is(chart.status, 200, "uPlot is found in the consumer's node_modules");
    assert.ok((await chart.text()).length > 10_000);
    const lineage = await fetch(url + "/v1/stages/fetch/items/0");
    assert.is(lineage.status, 200);
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("close", r));
  }
  const item = await must(bin(p, "ckpt"), ["item", "fetch", "0", "--json", "--store", store], {
    cwd: p.dir,
  });
  assert.ok(JSON.parse(item.stdout), item.stdout);
});

test("Deno runs the same consumer through npm:", async () => {
  const r = await must(deno, [
    "run",
    "-A",
    "--quiet",
    "--node-modules-dir=manual",
    "deno.mjs",
    join(p.dir, "store-deno"),
  ], { cwd: p.dir });
  const out = JSON.parse(r.stdout);
  assert.is(out.runtime, "deno");
  assert.equal(out.resumed, { from: "paused", done: [true, true, true, false, false] });
  assert.is(out.status, "completed");
  assert.is(out.http, "function");
  // The CLI on Deno as the README shows it: `deno run -A npm:ckpt …` runs the package's bin.
  const v = await must(deno, [
    "run",
    "-A",
    "--quiet",
    "--node-modules-dir=manual",
    "npm:ckpt",
    "--version",
  ], { cwd: p.dir });
  assert.is(v.stdout.trim(), `ckpt ${pkg.version}`);
  const list = await must(deno, [
    "run",
    "-A",
    "--quiet",
    "--node-modules-dir=manual",
    "npm:ckpt",
    "list",
    "--json",
    "--store",
    join(p.dir, "store-deno"),
  ], { cwd: p.dir });
  assert.equal((JSON.parse(list.stdout) as { stage: string }[]).map((s) => s.stage), ["fetch"]);
});

test("publint (strict) and arethetypeswrong (esm-only profile) find nothing in the tarball", async () => {
  const lint = await exec(node, [
    join(ROOT, "node_modules/publint/src/cli.js"),
    "run",
    "--strict",
    p.tarball,
  ], { cwd: ROOT });
  assert.is(lint.code, 0, lint.stdout + lint.stderr);
  const attw = await exec(node, [
    join(ROOT, "node_modules/@arethetypeswrong/cli/dist/index.js"),
    p.tarball,
    "--profile",
    "esm-only",
    "--format",
    "ascii",
  ], { cwd: ROOT });
  assert.is(attw.code, 0, attw.stdout + attw.stderr);
});

test("deno publish --dry-run accepts deno.json (JSR): name, version, exports, files, no slow types, type-checks", async () => {
  // The whole check: Deno's type-check of every published file and the slow-type check (explicit
  // types on the public API): no --no-check, no --allow-slow-types.
  const r = await must(deno, ["publish", "--dry-run", "--allow-dirty"], { cwd: ROOT });
  const out = (r.stdout + r.stderr).replace(/\x1b\[[0-9;]*m/g, "");
  assert.match(out, /@ckpt\/ckpt@0\.1\.0/);
  assert.match(out, /Success Dry run complete/);
  assert.not.match(out, /missing-explicit-type|error\[/, "no slow-type findings");
  for (
    const f of [
      "mod.ts",
      "testing/index.ts",
      "server/index.ts",
      "cli/main.ts",
      "adapters/postgres.ts",
    ]
  ) assert.ok(out.includes(f), `${f} not published`);
  for (const f of ["test/", "bench/", "examples/", "bin.mjs", "node_modules/"]) {
    assert.not.ok(out.includes(`/${f}`), `${f} would be published`);
  }
});

test("the README's install, quick start and resumable loop work when pasted into the project", async () => {
  const snippets = readmeSnippets(readFileSync(join(ROOT, "README.md"), "utf8"));
  assert.equal(
    snippets.install,
    ["npm install ckpt"],
    "the install section says npm install ckpt (the test installed the tarball in its place)",
  );
  for (const s of snippets.files) await writeFile(join(p.dir, s.name), s.code);
  const names = snippets.files.map((s) => s.name);
  assert.ok(names.includes("quickstart.mjs") && names.includes("loop.mjs"), names.join(", "));

  // The quick start's shell lines, as a user types them.
  const outputs: string[] = [];
  for (const line of snippets.shell) {
    const r = await must("sh", ["-c", line], { cwd: p.dir });
    outputs.push(r.stdout);
  }
  assert.equal(snippets.shell.slice(0, 2), ["node quickstart.mjs", "node quickstart.mjs"]);
  assert.match(outputs[0]!, /working on alpha/);
  assert.not.match(outputs[1]!, /working on/, "the second run redoes nothing");
  assert.match(outputs[2]!, /demo/);

  // The resumable loop against a loopback server: 4 pages and one 404, urls.txt ending with a
  // newline.
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? "");
    if (req.url?.startsWith("/page/")) res.end(`<p>${req.url}</p>`);
    else res.writeHead(404).end();
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await writeFile(
      join(p.dir, "urls.txt"),
      ["/page/1", "/page/2", "/missing", "/page/3", "/page/4"].map((u) => base + u).join("\n") +
        "\n",
    );
    await must(node, ["loop.mjs"], { cwd: p.dir });
    assert.is(hits.length, 5);
    assert.equal(readdirSync(join(p.dir, "out")).sort(), ["0.html", "1.html", "3.html", "4.html"]);
    const state = JSON.parse(
      (await must(bin(p, "ckpt"), ["show", "fetch", "--json"], { cwd: p.dir })).stdout,
    );
    assert.is(state.state.counters.processed, 5);
    assert.is(state.state.counters.failed, 1);
    assert.is(state.state.status, "completed");
    await must(node, ["loop.mjs"], { cwd: p.dir });
    assert.is(hits.length, 5, "the second run fetches nothing again");
  } finally {
    server.close();
  }
  assert.ok(existsSync(join(p.dir, ".ckpt")));
});

test.run();
