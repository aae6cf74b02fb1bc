/**
 * One flag layer (runtime/flags.ts) for `ckpt` and `ckpt-server`: the same grammar, the same
 * values, the same refusals.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseCount } from "../../cli/values.ts";
import { bytesValue, countValue, parseArgs, UsageError, valueOf } from "../../runtime/flags.ts";
import { parseArgs as serverArgs } from "../../server/args.ts";
import { cli } from "./helpers.ts";

const SPECS = {
  port: { type: "string", env: "X_PORT", default: "7410", description: "" },
  quiet: { type: "boolean", description: "" },
} as const;

test("a flag beats its variable, which beats the default; an empty variable is not set", () => {
  const none = parseArgs([], SPECS, [], "t");
  assert.is(valueOf(none, SPECS, "port", {}), "7410");
  assert.is(valueOf(none, SPECS, "port", {}, false), undefined, "given at all?");
  assert.is(valueOf(none, SPECS, "port", { X_PORT: "" }), "7410");
  assert.is(valueOf(none, SPECS, "port", { X_PORT: "9" }), "9");
  assert.is(valueOf(parseArgs(["--port=1"], SPECS, [], "t"), SPECS, "port", { X_PORT: "9" }), "1");
});

test("counts: ckpt and ckpt-server accept and refuse the same texts", async () => {
  const TEXTS: [string, number | undefined][] = [
    ["0", 0],
    ["42", 42],
    ["007", 7],
    ["-3", undefined],
    ["1.5", undefined],
    ["lots", undefined],
    ["", undefined],
    ["1e3", undefined],
    ["9007199254740992", undefined],
  ];
  for (const [text, want] of TEXTS) {
    const lib = (() => {
      try {
        return countValue(text, "--n", "t");
      } catch (e) {
        assert.instance(e, UsageError);
        return undefined;
      }
    })();
    assert.is(lib, want, `runtime/flags: ${JSON.stringify(text)}`);
    const viaCli = (() => {
      try {
        return parseCount(text, "--n", "t");
      } catch {
        return undefined;
      }
    })();
    assert.is(viaCli, want, `ckpt: ${JSON.stringify(text)}`);
    const s = serverArgs(["--memory", "--compact-every", "1h", "--compact-keep", text], {});
    assert.is(
      s.kind === "run" ? s.config.compaction?.policy.maxEvents : undefined,
      want,
      `ckpt-server: ${JSON.stringify(text)}`,
    );
  }
  const r = await cli(["item", "x", "lots", "--store", "/nonexistent"]);
  assert.is(r.code, 2);
  assert.match(r.err, '<index> expects a whole number; got "lots"');
});

test("byte sizes: k and m suffixes, a floor, and the same refusal text on the sidecar", () => {
  assert.is(bytesValue("1m", "--b", "t"), 1024 * 1024);
  assert.is(bytesValue("64k", "--b", "t"), 64 * 1024);
  assert.is(bytesValue("2048", "--b", "t"), 2048);
  assert.throws(() => bytesValue("100", "--b", "t"), /at least 1024 bytes/);
  assert.throws(() => bytesValue("lots", "--b", "t"), /expects a size in bytes/);
  const s = serverArgs(["--memory", "--body-limit", "lots"], {});
  assert.ok(
    s.kind === "error" && s.message.includes("--body-limit expects a size in bytes"),
    JSON.stringify(s),
  );
  const env = serverArgs(["--memory"], { CKPT_BODY_LIMIT: "2m" });
  assert.ok(env.kind === "run" && env.config.bodyLimit === 2 * 1024 * 1024);
});

test("the sidecar's flags use the CLI's grammar: unknown flags get a suggestion, booleans take no value, -h is help", () => {
  const typo = serverArgs(["--prot", "1"], {});
  assert.ok(
    typo.kind === "error" && /unknown flag --prot .*did you mean --port\?/.test(typo.message),
    JSON.stringify(typo),
  );
  const b = serverArgs(["--quiet=1"], {});
  assert.ok(b.kind === "error" && b.message.includes("--quiet takes no value"), JSON.stringify(b));
  assert.is(serverArgs(["-h"], {}).kind, "help");
  const missing = serverArgs(["--port"], {});
  assert.ok(missing.kind === "error" && missing.message.includes("--port needs a value <n>"));
});

test.run();
