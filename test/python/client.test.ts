/**
 * Runs the Python client's unittest suite (clients/python/tests) from `npm test`: the suite starts
 * its own ckpt-server children through CKPT_SERVER_CMD (this runtime's entry point), so everything
 * runs against a real sidecar on loopback. Node only: test/run.ts leaves test/python/ out of the
 * Deno pass.
 */
import { spawn, spawnSync } from "node:child_process";
import process from "node:process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { STATUS_OF } from "../../server/errors.ts";

const root = new URL("../..", import.meta.url).pathname;
const python = process.env.CKPT_PYTHON ?? "python3";

/** CI machines may lack Python: install it (as root, only when missing) rather than skip. */
function ensurePython(): void {
  if (spawnSync(python, ["-c", "import pip"]).status === 0) return;
  const apt = spawnSync("sh", [
    "-c",
    "command -v apt-get && (apt-get update -qq && apt-get install -y -qq python3 python3-pip) >/dev/null",
  ], { stdio: "inherit" });
  if (apt.status !== 0) {
    throw new Error(
      `${python} (with pip) is missing and could not be installed; install Python >= 3.9 or set CKPT_PYTHON.`,
    );
  }
}

test("the Python client's unittest suite passes against a real ckpt-server", async () => {
  ensurePython();
  const env = {
    ...process.env,
    CKPT_SERVER_CMD: JSON.stringify([process.execPath, "--import", "tsx", `${root}server/node.ts`]),
    CKPT_ERROR_CODES: JSON.stringify(Object.keys(STATUS_OF)),
    PYTHONDONTWRITEBYTECODE: "1",
  };
  const child = spawn(python, ["-m", "unittest", "discover", "-s", "tests", "-t", ".", "-v"], {
    cwd: `${root}clients/python`,
    env,
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const code = await new Promise<number | null>((r) => child.on("close", r));
  const ran = Number(/^Ran (\d+) tests?/m.exec(output)?.[1] ?? 0);
  if (code !== 0 || !/^OK\b/m.test(output)) console.log(output);
  assert.is(code, 0, "python -m unittest failed");
  assert.ok(/^OK\b/m.test(output), "unittest did not report OK");
  assert.ok(ran > 0, "unittest ran no tests");
  const version = spawnSync(python, ["--version"], { encoding: "utf8" }).stdout.trim();
  // Counted by test/run.ts beside uvu's own summary.
  console.log(`python unittest (${version}): Total: ${ran} Passed: ${ran}`);
});

test.run();
