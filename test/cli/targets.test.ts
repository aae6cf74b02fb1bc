/**
 * Choosing the log: one table of inputs, asked of all three entry points (the library's open(), the
 * CLI's flags, the sidecar's flags), which must give the same answer wherever they accept the
 * input.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { memoryLog } from "../../adapters/memory.ts";
import { resolveTarget, type Target, type TargetChoice } from "../../adapters/target.ts";
import { isCkptError } from "../../core/errors.ts";
import { Store } from "../../core/store.ts";
import { open } from "../../mod.ts";
import { runtimePlatform } from "../../runtime/platform.ts";
import { parseArgs as serverArgs } from "../../server/args.ts";
import { tempDir } from "../helpers/tmp.ts";
import { cli } from "./helpers.ts";

type Env = Record<string, string>;
const INVALID = "invalid" as const;
const PG = "postgres://u:pw@db/ckpt";
const ES = "esdb://h:2113?tls=false";

/**
 * [what, named explicitly (option names), environment, answer, the sidecar's answer where it
 * differs]
 */
const TABLE: [string, TargetChoice, Env, Target | typeof INVALID, (Target | typeof INVALID)?][] = [
  ["nothing: ./.ckpt", {}, {}, { kind: "level", path: "./.ckpt" }],
  ["CKPT_STORE", {}, { CKPT_STORE: "/s" }, { kind: "level", path: "/s" }],
  ["CKPT_STORE as a postgres URL", {}, { CKPT_STORE: PG }, { kind: "postgres", url: PG }],
  ["CKPT_EVENTSTORE", {}, { CKPT_EVENTSTORE: ES }, { kind: "eventstore", connectionString: ES }],
  ["CKPT_MEMORY", {}, { CKPT_MEMORY: "1" }, { kind: "memory" }],
  ["CKPT_URL with CKPT_TOKEN", {}, { CKPT_URL: "http://h:1/", CKPT_TOKEN: "t" }, {
    kind: "http",
    url: "http://h:1",
    token: "t",
  }, { kind: "level", path: "./.ckpt" }],
  ["two targets in the environment", {}, { CKPT_STORE: "/s", CKPT_EVENTSTORE: ES }, INVALID],
  ["CKPT_URL and CKPT_STORE", {}, { CKPT_STORE: "/s", CKPT_URL: "http://h:1" }, INVALID, {
    kind: "level",
    path: "/s",
  }],
  ["CKPT_MEMORY and CKPT_STORE", {}, { CKPT_STORE: "/s", CKPT_MEMORY: "true" }, INVALID],
  ["an explicit store beats the environment", { path: "/x" }, {
    CKPT_URL: "http://h:1",
    CKPT_EVENTSTORE: ES,
    CKPT_STORE: "/s",
  }, { kind: "level", path: "/x" }],
  ["an explicit postgres store", { path: PG }, {}, { kind: "postgres", url: PG }],
  ["an explicit eventstore beats CKPT_STORE", { eventstore: ES }, { CKPT_STORE: "/s" }, {
    kind: "eventstore",
    connectionString: ES,
  }],
  ["explicit memory beats CKPT_STORE", { memory: true }, { CKPT_STORE: "/s" }, { kind: "memory" }],
  ["an explicit url, token from CKPT_TOKEN", { url: "http://h:1" }, {
    CKPT_TOKEN: "t",
    CKPT_STORE: "/s",
  }, { kind: "http", url: "http://h:1", token: "t" }],
  ["an explicit url and token", { url: "https://h", token: "x" }, { CKPT_TOKEN: "t" }, {
    kind: "http",
    url: "https://h",
    token: "x",
  }],
  ["a token with CKPT_URL", { token: "x" }, { CKPT_URL: "http://h:1" }, {
    kind: "http",
    url: "http://h:1",
    token: "x",
  }],
  ["two explicit targets", { path: "/x", eventstore: ES }, {}, INVALID],
  ["explicit store and memory", { path: "/x", memory: true }, {}, INVALID],
  ["explicit url and store", { path: "/x", url: "http://h:1" }, {}, INVALID],
  ["a url that is not http", { url: "h:1" }, {}, INVALID],
  ["a token without a url", { token: "x" }, {}, INVALID],
  ["a token with a store", { path: "/x", token: "x" }, { CKPT_URL: "http://h:1" }, INVALID],
  ["a segments: store", { path: "segments:/d" }, {}, { kind: "segments", path: "/d" }],
  ["CKPT_STORE as segments:", {}, { CKPT_STORE: "segments:./d" }, {
    kind: "segments",
    path: "./d",
  }],
  ["an explicit segments: store beats CKPT_STORE", { path: "segments:/d" }, { CKPT_STORE: "/s" }, {
    kind: "segments",
    path: "/d",
  }],
  ["segments: without a folder", { path: "segments:" }, {}, INVALID],
  ["segments: and memory", { path: "segments:/d", memory: true }, {}, INVALID],
  ["segments: and an eventstore", { path: "segments:/d", eventstore: ES }, {}, INVALID],
  ["CKPT_STORE segments: and CKPT_EVENTSTORE", {}, {
    CKPT_STORE: "segments:/d",
    CKPT_EVENTSTORE: ES,
  }, INVALID],
];

type Answer = Target | typeof INVALID;
const show = (a: Answer) => JSON.stringify(a);

/** The library: open() hands its options and the platform's env to the rule. */
function library(choice: TargetChoice, env: Env): Answer {
  try {
    return resolveTarget(choice, (n) => env[n]);
  } catch (e) {
    assert.ok(isCkptError(e, "CKPT_INVALID"), String(e));
    return INVALID;
  }
}

/** The CLI: flags, env, and what it asked to open (opened as an empty memory store). */
async function ckpt(choice: TargetChoice, env: Env): Promise<Answer | undefined> {
  if (choice.memory) return undefined; // no --memory flag: a CLI process's memory store would be empty
  const argv = ["list"];
  if (choice.path !== undefined) argv.push("--store", choice.path);
  if (choice.url !== undefined) argv.push("--url", choice.url);
  if (choice.eventstore !== undefined) argv.push("--eventstore", choice.eventstore);
  if (choice.token !== undefined) argv.push("--token", choice.token);
  let opened: Target | undefined;
  const r = await cli(argv, {
    env,
    open: async (t) => ((opened = t), new Store(memoryLog(), { platform: runtimePlatform })),
  });
  if (r.code === 2) {
    assert.match(r.err, /^error CKPT_INVALID: /, r.err);
    return INVALID;
  }
  assert.is(r.code, 0, r.err);
  return opened;
}

/** The sidecar: its flags (no --url or --token: it is the server those name). */
function sidecar(choice: TargetChoice, env: Env): Answer | undefined {
  if (choice.url !== undefined || choice.token !== undefined) return undefined;
  const argv: string[] = [];
  if (choice.path !== undefined) argv.push("--store", choice.path);
  if (choice.memory) argv.push("--memory");
  if (choice.eventstore !== undefined) argv.push("--eventstore", choice.eventstore);
  const p = serverArgs(argv, env);
  if (p.kind === "error") return INVALID;
  assert.is(p.kind, "run");
  return p.kind === "run" ? p.config.target : undefined;
}

test("library, CLI and sidecar choose the same log from the same inputs", async () => {
  for (const [what, choice, env, want, sidecarWant] of TABLE) {
    assert.equal(show(library(choice, env)), show(want), `library: ${what}`);
    const c = await ckpt(choice, env);
    if (c !== undefined) assert.equal(show(c), show(want), `ckpt: ${what}`);
    const s = sidecar(choice, env);
    if (s !== undefined) assert.equal(show(s), show(sidecarWant ?? want), `ckpt-server: ${what}`);
  }
});

test("open() follows the rule for real: the env it is given, explicit beats env, two targets refused", async () => {
  const dir = await tempDir();
  const env = (vars: Env) => ({ platform: { ...runtimePlatform, env: (n: string) => vars[n] } });
  try {
    let store = await open({ ...env({ CKPT_STORE: `${dir.path}/a` }) });
    assert.is(store.log.location, `${dir.path}/a`);
    await store.close();
    store = await open({
      path: `${dir.path}/b`,
      ...env({ CKPT_MEMORY: "1", CKPT_URL: "http://h:1" }),
    });
    assert.is(store.log.location, `${dir.path}/b`);
    await store.close();
    store = await open({ ...env({ CKPT_MEMORY: "1" }) });
    assert.is(store.log.location, "memory");
    await store.close();
    for (
      const [o, vars] of [[{}, { CKPT_STORE: `${dir.path}/c`, CKPT_MEMORY: "1" }], [{
        path: `${dir.path}/d`,
        token: "t",
      }, {}]] as const
    ) {
      const err = await open({ ...o, ...env(vars) }).then(() => undefined, (e: unknown) => e);
      assert.ok(isCkptError(err, "CKPT_INVALID"), String(err));
    }
  } finally {
    await dir.remove();
  }
});

test("a folder that holds a segment log opens as one, prefix or not; durability os is refused with it", async () => {
  const dir = await tempDir();
  const path = `${dir.path}/seg`;
  try {
    let store = await open({ path: `segments:${path}` });
    assert.is(store.log.location, path);
    const run = await store.stage("fetch").begin({ total: 2 });
    await run.done(0);
    await run.done(1);
    await run.complete();
    await store.close();
    assert.ok(existsSync(join(path, "SEGMENTS")), "the segment log writes its marker");
    // The library: a plain path to it is the segment log (no LevelDB files appear beside it).
    store = await open({ path });
    assert.is((await store.stage("fetch").state()).status, "completed");
    await store.close();
    assert.not.ok(existsSync(join(path, "CURRENT")), "opened as LevelDB");
    // The CLI: `--store <dir>` and CKPT_STORE=<dir> resolve to the segment log.
    for (
      const [argv, env] of [[["list", "--store", path], {}], [["list"], {
        CKPT_STORE: path,
      }]] as const
    ) {
      let opened: Target | undefined;
      const r = await cli([...argv], {
        env,
        open: async (t) => ((opened = t), new Store(memoryLog(), { platform: runtimePlatform })),
      });
      assert.is(r.code, 0, r.err);
      assert.equal(opened, { kind: "segments", path });
    }
    const real = await cli(["list", "--store", path, "--json"]);
    assert.is(real.code, 0, real.err);
    assert.match(real.out, /"fetch"/);
    for (const p of [path, `segments:${path}`]) {
      const err = await open({ path: p, durability: "os" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(isCkptError(err, "CKPT_INVALID"), String(err));
      assert.match((err as Error).message, /segment log/);
    }
    // A LevelDB folder stays LevelDB.
    store = await open({ path: `${dir.path}/level` });
    await store.close();
    assert.ok(existsSync(join(dir.path, "level", "CURRENT")));
  } finally {
    await dir.remove();
  }
});

test.run();
