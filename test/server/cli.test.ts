/**
 * ckpt-server's command line: flags and env parsed purely; main() run with a fake runtime
 * (listen, signals) for startup rules and graceful shutdown; the real executable once.
 */
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import process from "node:process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { levelLog } from "../../adapters/level.ts";
import { parseArgs } from "../../server/args.ts";
import type { Listener } from "../../server/listen.ts";
import { main, type MainIo, type Signal } from "../../server/main.ts";
import { tempDir } from "../helpers/tmp.ts";
import { eventually, isDeno, json, TOKEN_SPEC, TOKENS } from "./helpers.ts";

interface Fake {
  io: MainIo;
  out: string[];
  err: string[];
  listened: { host: string; port: number; hot: boolean }[];
  fetch: Promise<(req: Request) => Response | Promise<Response>>;
  signal(s: Signal): void;
}

function fake(env: Record<string, string> = {}, listenError?: Error): Fake {
  const out: string[] = [];
  const err: string[] = [];
  const listened: { host: string; port: number; hot: boolean }[] = [];
  const handlers = new Set<(s: Signal) => void>();
  let served: ((req: Request) => Response | Promise<Response>) | undefined;
  let ready!: (f: (req: Request) => Response | Promise<Response>) => void;
  // Resolves once main() has printed its banner and waits for a signal.
  const fetch = new Promise<(req: Request) => Response | Promise<Response>>((r) => (ready = r));
  const io: MainIo = {
    env,
    stdout: (l) => void out.push(l),
    stderr: (l) => void err.push(l),
    listen: async (f, o) => {
      if (listenError) throw listenError;
      listened.push({ ...o, hot: o.hot !== undefined }); // the app's hot path is handed over
      served = f;
      const l: Listener = {
        url: `http://${o.host}:${o.port}`,
        port: o.port,
        close: async () => undefined,
      };
      return l;
    },
    onListening: () => ready(served!),
    onSignal: (h) => {
      handlers.add(h);
      return () => handlers.delete(h);
    },
  };
  return { io, out, err, listened, fetch, signal: (s) => [...handlers].forEach((h) => h(s)) };
}

test("flags and env: defaults, env, flags over env, and every kind of mistake", () => {
  const d = parseArgs([], {});
  assert.is(d.kind, "run");
  if (d.kind !== "run") return;
  assert.equal([
    d.config.target,
    d.config.host,
    d.config.port,
    d.config.durability,
    d.config.bodyLimit,
  ], [{ kind: "level", path: "./.ckpt" }, "127.0.0.1", 7410, "sync", 1024 * 1024]);
  const e = parseArgs(["--port=7001", "--durability", "os", "--memory"], {
    CKPT_PORT: "9000",
    CKPT_STORE: "/data",
    CKPT_BODY_LIMIT: "2m",
    CKPT_TOKENS: "admin:x",
  });
  assert.ok(
    e.kind === "run" && e.config.port === 7001 && e.config.target.kind === "memory" &&
      e.config.durability === "os" && e.config.bodyLimit === 2 * 1024 * 1024 &&
      e.config.tokens === "admin:x",
  );
  const t = parseArgs(["--request-timeout", "2s"], {});
  assert.ok(t.kind === "run" && t.config.requestTimeoutMs === 2000, "--request-timeout");
  assert.is(parseArgs(["--help"], {}).kind, "help");
  assert.is(parseArgs(["-h"], {}).kind, "help");
  assert.is(parseArgs(["--version"], {}).kind, "version");
  for (
    const bad of [
      ["--bogus"],
      ["stray"],
      ["--port"],
      ["--port", "99999"],
      ["--port", "-1"],
      ["--durability", "maybe"],
      ["--body-limit", "lots"],
      ["--memory=yes"],
      ["--memory", "--eventstore", "esdb://x"],
      ["--request-timeout", "soon"],
    ]
  ) {
    const r = parseArgs(bad, {});
    assert.is(r.kind, "error", bad.join(" "));
  }
  const r = parseArgs(["--tokens", "admin:x"], {});
  assert.ok(
    r.kind === "error" && /unknown flag --tokens/.test(r.message),
    "tokens are never a flag: argv is visible to every user",
  );
});

test("--help prints usage and exits 0; a bad flag exits 2 with usage", async () => {
  const h = fake();
  assert.is(await main(["--help"], h.io), 0);
  assert.match(h.out.join("\n"), "Usage: ckpt-server");
  assert.match(h.out.join("\n"), "CKPT_TOKENS");
  const b = fake();
  assert.is(await main(["--prot", "1"], b.io), 2);
  assert.match(b.err.join("\n"), "unknown flag --prot for `ckpt-server`; did you mean --port?");
  assert.match(b.err.join("\n"), "Usage: ckpt-server");
  assert.is(b.listened.length, 0);
});

test("without tokens it only listens on loopback, and says so", async () => {
  const open = fake();
  assert.is(await main(["--memory", "--host", "0.0.0.0"], open.io), 2);
  assert.match(open.err.join("\n"), "refusing to listen on 0.0.0.0 without tokens");
  assert.is(open.listened.length, 0);

  const local = fake();
  const done = main(["--memory", "--port", "0"], local.io);
  await local.fetch;
  assert.equal(local.listened, [{
    host: "127.0.0.1",
    port: 0,
    requestTimeoutMs: 30_000,
    hot: true,
  }]);
  assert.match(
    local.out.join("\n"),
    "auth: none (no tokens configured), so listening on loopback only",
  );
  local.signal("SIGTERM");
  assert.is(await done, 0);
});

test("tokens from a file and from CKPT_TOKENS open it to other hosts; bad token files exit 2", async () => {
  const dir = await tempDir();
  const file = `${dir.path}/tokens`;
  await writeFile(file, "# team tokens\nadmin:file-admin-secret\n");
  const f = fake({ CKPT_TOKENS: "write:env-write-secret" });
  const done = main(["--memory", "--host", "0.0.0.0", "--tokens-file", file], f.io);
  const fetch = await f.fetch;
  assert.equal(f.listened, [{ host: "0.0.0.0", port: 7410, requestTimeoutMs: 30_000, hot: true }]);
  assert.match(f.out.join("\n"), "auth: 2 bearer token(s): write, admin");
  assert.is((await fetch(new Request("http://x/v1/stages"))).status, 401);
  assert.is(
    (await fetch(
      new Request("http://x/v1/stages", { headers: { authorization: "Bearer file-admin-secret" } }),
    )).status,
    200,
  );
  f.signal("SIGINT");
  assert.is(await done, 0);

  await writeFile(file, "root:nope\n");
  const bad = fake();
  assert.is(await main(["--memory", "--tokens-file", file], bad.io), 2);
  assert.match(bad.err.join("\n"), "role read, write or admin");
  const missing = fake();
  assert.is(await main(["--memory", "--tokens-file", `${dir.path}/absent`], missing.io), 2);
  await dir.remove();
});

test("a port it cannot take exits 1 and leaves the store closed", async () => {
  const dir = await tempDir();
  const f = fake({}, new Error("address already in use"));
  assert.is(await main(["--store", dir.path], f.io), 1);
  assert.match(f.err.join("\n"), "cannot listen on 127.0.0.1:7410: address already in use");
  const log = await levelLog(dir.path); // the folder's lock was released
  await log.close();
  await dir.remove();
});

test("SIGTERM: requests in flight finish, new ones get 503, held runs are paused, the store is closed", async () => {
  const dir = await tempDir();
  const f = fake({ CKPT_TOKENS: TOKEN_SPEC });
  const done = main(["--store", dir.path, "--quiet"], f.io);
  const fetch = await f.fetch;
  const auth = { authorization: `Bearer ${TOKENS.write}` };
  const begun = await fetch(
    new Request("http://x/v1/stages/held/runs", json("POST", { total: 5 }, auth)),
  );
  const { runId } = (await begun.json()) as { runId: string };
  // An update whose body is still arriving when the signal comes.
  let finish!: () => void;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode('{"updates":[{"type":"item",'));
      finish = () => {
        c.enqueue(new TextEncoder().encode('"index":0}]}'));
        c.close();
      };
    },
  });
  const inFlight = fetch(
    new Request(
      `http://x/v1/stages/held/runs/${runId}/updates`,
      {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body,
        duplex: "half",
      } as RequestInit,
    ),
  );
  // Waits on what the sidecar reports, not on a guess of how long it takes: the update is in
  // flight, then it drains.
  assert.ok(
    await eventually(async () =>
      (await (await fetch(new Request("http://x/metrics", { headers: auth }))).text()).includes(
        "ckpt_http_in_flight 1\n",
      )
    ),
    "the update is in flight",
  );
  f.signal("SIGTERM");
  assert.ok(
    await eventually(async () => (await fetch(new Request("http://x/readyz"))).status === 503),
    "draining",
  );
  const late = await fetch(new Request("http://x/v1/stages/other/runs", json("POST", {}, auth)));
  assert.is(late.status, 503);
  assert.is((await fetch(new Request("http://x/readyz"))).status, 503);
  finish();
  assert.is((await inFlight).status, 200);
  assert.is(await done, 0);
  assert.equal(f.err, []);

  const log = await levelLog(dir.path);
  const events = [];
  for await (const e of log.read("held")) events.push(e.event.type);
  assert.equal(events.filter((t) => t !== "heartbeat"), ["run.started", "item", "paused"]);
  assert.equal((await log.streams()).map((s) => s.stream), ["held"]);
  await log.close();
  await dir.remove();
});

test("the real executable: a bad flag exits 2 with usage, --help exits 0", async () => {
  const entry =
    new URL(isDeno ? "../../server/deno.ts" : "../../server/bin.mjs", import.meta.url).pathname;
  const cmd = isDeno ? ["run", "-A", "--quiet", entry] : [entry];
  const run = (args: string[]) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const p = spawn(process.execPath, [...cmd, ...args], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      p.stdout.on("data", (d) => (out += d));
      p.stderr.on("data", (d) => (err += d));
      p.on("close", (code) => resolve({ code, out, err }));
    });
  const [bad, help] = await Promise.all([run(["--nope"]), run(["--help"])]);
  assert.is(bad.code, 2);
  assert.match(bad.err, "unknown flag --nope for `ckpt-server`");
  assert.match(bad.err, "Usage: ckpt-server");
  assert.is(help.code, 0);
  assert.match(help.out, "--store <dir>");
});

test.run();
