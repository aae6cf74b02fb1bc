/**
 * The dashboard in a real browser: Debian's chromium driven headless by playwright-core, against a
 * real ckpt-server child process (LevelDB in a temp folder, tokens on) fed by a real worker
 * process. Node only (test/run.ts does not run test/browser/ on Deno: the page is the same either
 * way, and the sidecar's Deno listener has its own tests). Never skipped: without chromium this
 * file fails. Screenshots go to $CKPT_ARTIFACTS (default: a temp folder, printed);
 * CKPT_DOCS_SCREENSHOTS=1 also refreshes docs/dashboard-*.png for the README.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { tempDir } from "../helpers/tmp.ts";
import { serverEntry, spawnTs, TOKEN_SPEC, TOKENS } from "../server/helpers.ts";

const STAGE = "crawl:chunk-1";
const TOTAL = 2000;
const pipelineFile = new URL("./fixtures/pipeline.ts", import.meta.url).pathname;
const docs = process.env.CKPT_DOCS_SCREENSHOTS === "1"
  ? new URL("../../docs/", import.meta.url).pathname
  : undefined;

function chromiumPath(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  for (const name of ["chromium", "chromium-browser"]) {
    try {
      return execFileSync("which", [name], { encoding: "utf8" }).trim();
    } catch {
      // try the next name
    }
  }
  throw new Error(
    "chromium is not installed: `apt-get install -y chromium` (.ci/run does it), or set CHROMIUM_PATH. The browser tests are never skipped.",
  );
}

interface Server {
  url: string;
  port: number;
  proc: ChildProcess;
  exited: Promise<number | null>;
}

/** A real ckpt-server process on `port` (0: a free one), with tokens, over `store`. */
async function startServer(store: string, port = 0): Promise<Server> {
  const proc = spawnTs(serverEntry, ["--store", store, "--port", String(port)], {
    CKPT_TOKENS: TOKEN_SPEC,
  });
  const exited = new Promise<number | null>((r) => proc.on("exit", (code) => r(code)));
  let out = "";
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout!.on("data", (d) => {
      out += d;
      const m = /listening on (http:\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.stderr!.on("data", (d) => (out += d));
    void exited.then((code) =>
      reject(new Error(`ckpt-server exited (${code}) before listening:\n${out}`))
    );
  });
  return { url, port: Number(new URL(url).port), proc, exited };
}

interface Worker {
  send(line: string): Promise<void>;
  stop(): Promise<void>;
}

/** The fixture pipeline; `send` resolves once the worker says the command is durable. */
async function startWorker(url: string): Promise<Worker> {
  const proc = spawn(process.execPath, [
    "--import",
    "tsx",
    pipelineFile,
    url,
    TOKENS.write,
    STAGE,
    String(TOTAL),
  ], { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let waiters: (() => void)[] = [];
  proc.stdout!.on("data", (d) => {
    out += d;
    for (const w of waiters.splice(0)) w();
  });
  proc.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<void>((r) => proc.on("exit", () => r()));
  const waitFor = async (re: RegExp) => {
    const until = Date.now() + 30_000;
    while (!re.test(out)) {
      if (Date.now() > until || proc.exitCode !== null) {
        throw new Error(`worker did not print ${re}:\n${out}`);
      }
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 200);
      });
    }
  };
  await waitFor(/^ready$/m);
  let n = 0;
  return {
    async send(line) {
      proc.stdin!.write(line + "\n");
      await waitFor(new RegExp(`^ok ${++n}$`, "m"));
    },
    async stop() {
      proc.stdin!.end();
      proc.kill("SIGTERM");
      await exited;
      waiters = [];
    },
  };
}

let dir: { path: string; remove(): Promise<void> };
let shots: string;
let server: Server;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let worker: Worker | undefined;

/**
 * A screenshot for the artifacts; with CKPT_DOCS_SCREENSHOTS=1 also the README's copy, cut to
 * `height` to stay small.
 */
async function shot(name: string, height = 900, p: Page = page) {
  await p.screenshot({ path: join(shots, `${name}.png`) });
  if (docs) {
    await p.screenshot({
      path: join(docs, `${name}.png`),
      clip: { x: 0, y: 0, width: 1200, height },
    });
  }
}

const text = (sel: string, p: Page = page) => p.locator(sel).first().innerText();

test.before(async () => {
  try {
    await setUp();
  } catch (err) {
    // uvu reports a failed hook as "0 passed" and exits 0: make a missing browser fail loudly.
    console.error(`test/browser: cannot start: ${(err as Error).message}`);
    process.on("exit", () => void (process.exitCode = 1)); // after uvu has set its own
    throw err;
  }
});

async function setUp() {
  dir = await tempDir("ckpt-dashboard-");
  shots = process.env.CKPT_ARTIFACTS ?? (await mkdtemp(join(tmpdir(), "ckpt-dashboard-shots-")));
  mkdirSync(shots, { recursive: true });
  if (docs) mkdirSync(docs, { recursive: true });
  console.log(`screenshots: ${shots}`);
  server = await startServer(join(dir.path, "store"));
  browser = await chromium.launch({ executablePath: chromiumPath(), args: ["--no-sandbox"] });
  // German number formatting, so the locale test below can tell it from the default.
  context = await browser.newContext({
    locale: "de-DE",
    viewport: { width: 1200, height: 900 },
    colorScheme: "light",
  });
  page = await context.newPage();
}

test.after(async () => {
  await worker?.stop().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  server?.proc.kill("SIGKILL");
  await server?.exited;
  await dir?.remove();
});

test("without a token the API answers 401 and the page asks for one; a wrong one is refused, the right one works", async () => {
  const bare = await fetch(`${server.url}/v1/stages`);
  assert.is(bare.status, 401);
  const withToken = await fetch(`${server.url}/v1/stages`, {
    headers: { authorization: `Bearer ${TOKENS.read}` },
  });
  assert.is(withToken.status, 200);

  await page.goto(server.url + "/");
  await page.locator("#login").waitFor({ state: "visible" });
  await page.fill("#token", "not-a-token");
  await page.keyboard.press("Enter");
  await page.locator("#login-error").waitFor({ state: "visible" });
  assert.match(await text("#login-error"), "not accepted");
  await page.fill("#token", TOKENS.admin);
  await page.keyboard.press("Enter");
  await page.locator("#login").waitFor({ state: "hidden" });
  await page.locator("#conn.live").waitFor();
  assert.match(await text("#stages"), "No stages yet");
  const url = page.url();
  assert.not.match(url, TOKENS.admin, "the token is never in the URL");
});

test("a worker writes and the progress bar and counters move without a reload", async () => {
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42)); // gone after any reload
  worker = await startWorker(server.url);
  await worker.send("items 0 1200");
  const row = page.locator(`tr[data-stage="${STAGE}"]`);
  await row.locator('td[data-k="done"]', { hasText: "1.200 / 2.000" }).waitFor();
  const bar = await row.locator('[role="progressbar"]').getAttribute("aria-valuenow");
  assert.is(bar, "60");
  await worker.send("items 1200 1500");
  await row.locator('td[data-k="done"]', { hasText: "1.500 / 2.000" }).waitFor();
  assert.is(await row.locator('[role="progressbar"]').getAttribute("aria-valuenow"), "75");
  assert.is(
    await page.evaluate(() => (window as unknown as { marker?: number }).marker),
    42,
    "the page was not reloaded",
  );
  await worker.send("unit repo-a 3");
  await worker.send("unit repo-b 1");
  await worker.send("unitfail repo-c rate-limited");
  await worker.send("error upstream-timeout");
});

test("filters by prefix and status, and rolls stages up by prefix", async () => {
  await page.fill("#prefix", "nope");
  await page.locator("#stages", { hasText: "No stage matches" }).waitFor();
  await page.fill("#prefix", "crawl");
  await page.locator(`tr[data-stage="${STAGE}"]`).waitFor();
  await page.selectOption("#status", "completed");
  await page.locator("#stages", { hasText: "No stage matches" }).waitFor();
  await page.selectOption("#status", "running");
  await page.check("#rollup");
  await page.locator('tr[data-group="crawl"]', { hasText: "1.500 / 2.000" }).waitFor();
  await page.uncheck("#rollup");
  await page.fill("#prefix", "");
  await page.selectOption("#status", "");
  await shot("dashboard-stages", 330);
});

test("the stage page: counters, runs with who and where, errors grouped, units, charts", async () => {
  await page.click(`tr[data-stage="${STAGE}"] a`);
  await page.locator('[data-k="done"]', { hasText: "1.500 / 2.000" }).waitFor();
  await page.locator("#units .unit.failed", { hasText: "repo-c" }).waitFor();
  const sections = await text("#sections");
  assert.match(sections, "HTTP 503");
  assert.match(sections, "empty page");
  assert.match(sections, "upstream-timeout");
  assert.match(sections, /pid \d+/, "runs say which process ran them");
  assert.match(sections, "run.started");
  // 1500 items, every 10th+3 failed: 150 "HTTP 503" errors in one group.
  assert.match(await page.locator("tr", { hasText: "HTTP 503" }).first().innerText(), "150");
  await page.locator("#chart-rate .uplot").waitFor();
  await page.locator("#chart-eta .uplot").waitFor();
  await shot("dashboard-stage");
});

test("moving the history scrubber shows the earlier state; Back to live returns", async () => {
  await page.focus("#scrub");
  await page.keyboard.press("Home"); // the keyboard moves it like a drag: revision 0, the run's start
  await page.locator("#past").waitFor();
  assert.match(await text("#past"), "revision 0");
  assert.match(await text('[data-k="done"]'), "0 / 2.000");
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("ArrowRight");
  await page.locator("#past", { hasText: "revision 2" }).waitFor();
  assert.match(await text('[data-k="done"]'), "2 / 2.000");
  await shot("dashboard-scrubber", 330);
  // Or by time: a moment before the stage existed has no state to show, and the page says so.
  await page.fill("#scrub-time", "2001-01-01T00:00:00");
  await page.locator("#toast", { hasText: "no stored events at or before" }).waitFor();
  await page.click("#live");
  await page.locator("#past").waitFor({ state: "detached" });
  // Live again: the tiles show the head revision the slider ends at (heartbeats may have moved it
  // on meanwhile).
  await page.waitForFunction(() => {
    const tile = document.querySelector('[data-k="revision"]')?.textContent?.replace(/\D/g, "");
    return tile === (document.querySelector("#scrub") as HTMLInputElement).max;
  });
  assert.match(await text('[data-k="done"]'), "1.500 / 2.000");
});

test("an item's lineage: every event that touched it, with run and worker", async () => {
  await page.click('#sections a[href$="/item/3"]'); // from the "HTTP 503" error group
  await page.locator('tr[data-effect="recorded"]').waitFor();
  const row = await page.locator('tr[data-effect="recorded"]').innerText();
  assert.match(row, "failed");
  assert.match(row, "HTTP 503");
  assert.match(row, /pid \d+/);
  assert.match(await text("#lineage-summary"), "done: failed");
  const api = await fetch(`${server.url}/v1/stages/${STAGE}/items/1999`, {
    headers: { authorization: `Bearer ${TOKENS.read}` },
  });
  assert.equal(((await api.json()) as { entries: unknown[] }).entries, []);
  await page.goBack();
  // By keyboard: type an index in the stage page's box and press Enter.
  await page.fill("#item-index", "5");
  await page.keyboard.press("Enter");
  await page.locator('tr[data-effect="error"]', { hasText: "timeout after 30s" }).waitFor();
  const rows = await page.locator("tbody tr").allInnerTexts();
  assert.is(rows.length, 2, "an error, then the success that counts");
  assert.match(rows[0]!, "yes", "the error was retryable");
  assert.match(rows[1]!, "recorded");
  assert.match(rows[1]!, "ok");
  assert.match(await text("#lineage-summary"), "done: ok");
  await shot("dashboard-item", 300);
  await page.goBack();
  await page.locator('[data-k="done"]').waitFor();
});

test("kill the server and restart it: the page reconnects and catches up without a reload", async () => {
  await worker!.stop();
  worker = undefined;
  server.proc.kill("SIGKILL");
  await server.exited;
  await page.locator("#conn", { hasText: "reconnecting" }).waitFor();
  server = await startServer(join(dir.path, "store"), server.port);
  // The page's stream comes back on its own; what it missed while down is replayed from its last
  // revision.
  await page.locator("#conn.live").waitFor({ timeout: 15_000 });
  worker = await startWorker(server.url);
  await worker.send("items 1500 1600");
  await page.locator('[data-k="done"]', { hasText: "1.600 / 2.000" }).waitFor();
  assert.match(await text("#status"), "running");
  assert.is(
    await page.evaluate(() => (window as unknown as { marker?: number }).marker),
    42,
    "the page was not reloaded",
  );
  await page.click("header a.brand");
  await page.locator(`tr[data-stage="${STAGE}"] td[data-k="done"]`, { hasText: "1.600 / 2.000" })
    .waitFor();
});

test("dark mode and the keyboard: t switches the theme, / focuses the filter", async () => {
  await page.keyboard.press("t");
  assert.is(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
  await page.keyboard.press("/");
  assert.is(await page.evaluate(() => document.activeElement?.id), "prefix");
  await page.locator(`tr[data-stage="${STAGE}"]`).waitFor();
  await shot("dashboard-stages-dark", 330);
  await page.keyboard.press("Escape");
  await page.locator("h1").click();
  await page.keyboard.press("t");
  assert.is(await page.evaluate(() => document.documentElement.dataset.theme), "light");
});

test("an admin resets from the page only after confirming", async () => {
  await worker!.send("complete");
  await worker!.stop();
  worker = undefined;
  await page.goto(`${server.url}/#/stage/${STAGE}`);
  await page.locator("#status", { hasText: "completed" }).waitFor();
  await page.click("#reset");
  await page.locator("#confirm").waitFor({ state: "visible" });
  await page.click('#confirm button[value="cancel"]');
  await page.locator("#confirm").waitFor({ state: "hidden" });
  assert.match(await text("#status"), "completed", "cancel changes nothing");
  await page.click("#reset");
  await page.click("#confirm-ok");
  await page.locator("#status", { hasText: "initialized" }).waitFor();
  assert.match(await text('[data-k="done"]'), "0 / –");
});

test("a read-only token sees everything; the server refuses its reset (403)", async () => {
  const ro = await browser.newContext({ locale: "en-US" });
  const p = await ro.newPage();
  await p.goto(server.url + "/");
  await p.fill("#token", TOKENS.read);
  await p.keyboard.press("Enter");
  await p.locator(`tr[data-stage="${STAGE}"]`).waitFor();
  await p.click(`tr[data-stage="${STAGE}"] a`);
  await p.click("#reset");
  await p.click("#confirm-ok");
  await p.locator("#toast", { hasText: "admin role" }).waitFor();
  await ro.close();
});

test("what a first visit transfers (gzip), measured in the browser", async () => {
  const fresh = await browser.newContext();
  const p = await fresh.newPage();
  let bytes = 0;
  const sizes: Promise<void>[] = [];
  p.on(
    "requestfinished",
    (req) =>
      sizes.push(
        req.sizes().then((s) => void (bytes += s.responseBodySize + s.responseHeadersSize)),
      ),
  );
  await p.goto(server.url + "/");
  await p.locator("#login").waitFor({ state: "visible" });
  await Promise.all(sizes);
  console.log(
    `first visit: ${
      (bytes / 1024).toFixed(1)
    } KiB transferred (page, script, styles, uPlot; headers included)`,
  );
  assert.ok(bytes > 10_000 && bytes < 100_000, `the dashboard stays small: ${bytes} bytes`);
  await fresh.close();
});

test.run();
