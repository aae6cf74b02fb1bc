/**
 * The flag parser, suggestions, target resolution and help: every usage error is exit 2 with a
 * message, never a stack.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { editDistance, parseArgs, suggest } from "../../cli/args.ts";
import { COMMANDS } from "../../cli/commands/index.ts";
import { UsageError } from "../../cli/errors.ts";
import { describeTarget, resolveTarget } from "../../cli/target.ts";
import { parseDuration, parsePoint } from "../../cli/values.ts";
import { cli } from "./helpers.ts";

const FLAGS = {
  json: { type: "boolean", description: "" },
  output: { type: "string", short: "o", value: "<file>", description: "" },
  status: { type: "string", repeat: true, description: "" },
} as const;
const POS = [{ name: "stage", description: "the stage", required: true }] as const;

test("parses positionals, booleans, --flag value, --flag=value, short flags, repeats and --", () => {
  const a = parseArgs(
    ["fetch", "--json", "-o", "x.json", "--status=running", "--status", "paused"],
    FLAGS,
    POS,
    "ckpt t",
  );
  assert.equal(a.positionals, ["fetch"]);
  assert.equal(a.flags, { json: true, output: "x.json", status: ["running", "paused"] });
  assert.equal(parseArgs(["--", "--json"], FLAGS, POS, "ckpt t").positionals, ["--json"]);
});

test("usage errors name the problem and suggest the closest flag", () => {
  const err = (argv: string[]) => {
    try {
      parseArgs(argv, FLAGS, POS, "ckpt t");
    } catch (e) {
      assert.instance(e, UsageError);
      return (e as Error).message;
    }
    throw new Error("no error");
  };
  assert.match(err(["x", "--jsn"]), "did you mean --json?");
  assert.match(err(["x", "--ouptut", "f"]), "did you mean --output?");
  assert.not.match(err(["x", "--zzzzzz"]), "did you mean");
  assert.match(err(["x", "--output"]), "--output needs a value");
  assert.match(err(["x", "--json=1"]), "takes no value");
  assert.match(err(["x", "-o", "a", "-o", "b"]), "given twice");
  assert.match(err([]), "missing <stage>");
  assert.match(err(["a", "b"]), 'unexpected argument "b"');
});

test("edit distance counts a transposition as one edit", () => {
  assert.is(editDistance("lsit", "list"), 1);
  assert.is(editDistance("kitten", "sitting"), 3);
  assert.is(suggest("repot", ["report", "reset", "replay"]), "report");
  assert.is(suggest("xyz", ["report", "reset"]), undefined);
});

test("durations and history points", () => {
  assert.is(parseDuration("7d", "--max-age", "c"), 7 * 86_400_000);
  assert.is(parseDuration("1h30m", "--max-age", "c"), 90 * 60_000);
  assert.throws(
    () => parseDuration("7 days", "--max-age", "c"),
    (e: Error) => e instanceof UsageError && /duration/.test(e.message),
  );
  assert.equal(parsePoint("42", "--from", "c", 0), { revision: 42 });
  assert.equal(parsePoint("2026-01-02T03:04:05Z", "--from", "c", 0), {
    at: Date.UTC(2026, 0, 2, 3, 4, 5),
  });
  assert.equal(parsePoint("15m", "--from", "c", 1_000_000_000), { at: 1_000_000_000 - 900_000 });
  assert.throws(
    () => parsePoint("yesterday", "--from", "c", 0),
    (e: Error) => e instanceof UsageError,
  );
});

test("targets: flags beat env, two targets are a usage error, credentials are never shown", () => {
  const args = (flags: Record<string, string>) => ({ positionals: [], flags });
  assert.equal(resolveTarget(args({}), {}, "c"), { kind: "level", path: "./.ckpt" });
  assert.equal(resolveTarget(args({}), { CKPT_STORE: "/s" }, "c"), { kind: "level", path: "/s" });
  assert.equal(resolveTarget(args({ store: "/x" }), { CKPT_URL: "http://h:1" }, "c"), {
    kind: "level",
    path: "/x",
  });
  assert.equal(resolveTarget(args({ url: "http://h:1/" }), { CKPT_TOKEN: "t" }, "c"), {
    kind: "http",
    url: "http://h:1",
    token: "t",
  });
  assert.equal(resolveTarget(args({}), { CKPT_EVENTSTORE: "esdb://h:2113" }, "c"), {
    kind: "eventstore",
    connectionString: "esdb://h:2113",
  });
  assert.throws(
    () => resolveTarget(args({ store: "/x", url: "http://h" }), {}, "c"),
    (e: Error) => e instanceof UsageError,
  );
  assert.throws(() => resolveTarget(args({ url: "h:1" }), {}, "c"), /http/);
  assert.throws(() => resolveTarget(args({ token: "t" }), {}, "c"), /--token only applies/);
  assert.is(
    describeTarget({
      kind: "eventstore",
      connectionString: "esdb://admin:changeit@db:2113?tls=false",
    }),
    "esdb://admin@db:2113",
  );
});

test("every command has --help (exit 0, usage, options, examples) and is in the root help", async () => {
  const root = await cli(["--help"]);
  assert.is(root.code, 0);
  for (const c of COMMANDS) {
    assert.match(root.out, new RegExp(`\\n  ${c.name} +`));
    const h = await cli([c.name, "--help"]);
    assert.is(h.code, 0, c.name);
    assert.match(h.out, `Usage: ckpt ${c.name}`);
    assert.match(h.out, "Examples:");
    assert.match(h.out, "Exit codes:");
    if (c.name !== "serve") assert.match(h.out, "--store <dir>");
    const viaHelp = await cli(["help", c.name]);
    assert.is(viaHelp.code, 0);
    assert.is(viaHelp.out.trim(), h.out.trim());
  }
});

test("bad command lines: exit 2, one message with a suggestion, no stack trace, no store opened", async () => {
  const cases: [string[], RegExp][] = [
    [["lsit"], /unknown command "lsit"; did you mean "list"\?/],
    [["list", "--jsn"], /unknown flag --jsn for `ckpt list`; did you mean --json\?/],
    [["show"], /missing <stage>/],
    [["show", "../etc"], /error CKPT_INVALID: Invalid stage name/],
    [["replay", "x", "--from", "yesterday"], /--from expects a revision/],
    [["replay", "x", "--at", "5", "--follow"], /--at prints one state/],
    [["compact"], /say what to remove/],
    [["compact", "--max-age", "7days"], /--max-age expects a duration/],
    [["cleanup"], /--days <n> is required/],
    [["cleanup", "--days", "-3"], /unknown flag -3|expects a whole number/],
    [["list", "--status", "runing"], /--status expects one of/],
    [["reset"], /name the stages to reset, or pass --all/],
    [["list", "--store", "a", "--url", "http://b"], /name different targets/],
    [["help", "nope"], /unknown command "nope"/],
  ];
  for (const [argv, re] of cases) {
    const r = await cli(argv, { env: { CKPT_STORE: "/nonexistent/never-opened" } });
    assert.is(r.code, 2, argv.join(" "));
    assert.match(r.err, re, argv.join(" "));
    assert.not.match(r.err, /\n\s+at /, "no stack trace");
    assert.match(r.err, /Run `ckpt.*--help` for usage/);
    assert.is(r.out, "");
  }
});

test("no command prints the help on stderr with exit 2; --version prints the version", async () => {
  const none = await cli([]);
  assert.is(none.code, 2);
  assert.match(none.err, "Usage: ckpt <command>");
  const v = await cli(["--version"]);
  assert.is(v.code, 0);
  assert.is(v.out, "ckpt 0.0.0-test\n");
});

test("flags may come before the command", async () => {
  const r = await cli(["--store", "/nonexistent/x", "list"]);
  assert.is(r.code, 1);
  assert.match(r.err, "error CKPT_NOT_FOUND: No ckpt store at /nonexistent/x");
});

test.run();
