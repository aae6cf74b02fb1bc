/**
 * One duration grammar: the library, `ckpt` flags and `ckpt-server` flags read every text the same
 * way.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseDuration as cliDuration } from "../../cli/values.ts";
import { parseDuration } from "../../core/duration.ts";
import { parseDuration as fromRetention } from "../../core/retention.ts";
import { parseArgs } from "../../server/args.ts";

/** text → milliseconds, or null for refused. */
const TABLE: Array<[string, number | null]> = [
  ["500ms", 500],
  ["90s", 90_000],
  ["15m", 900_000],
  ["12h", 43_200_000],
  ["7d", 604_800_000],
  ["2w", 1_209_600_000],
  ["1h30m", 5_400_000],
  ["1.5h", 5_400_000],
  ["1d12h", 129_600_000],
  ["0s", 0],
  ["0", null],
  ["3600000", null],
  ["7 d", null],
  [" 7d", null],
  ["7days", null],
  ["7D", null],
  ["-1h", null],
  ["h", null],
  ["", null],
  ["1e3s", null],
  ["99999999999999999w", null],
];

const core = (t: string) => {
  try {
    return parseDuration(t);
  } catch (e) {
    assert.is((e as { code?: string }).code, "CKPT_INVALID", t);
    return null;
  }
};
const cli = (t: string) => {
  try {
    return cliDuration(t, "--max-age", "compact");
  } catch {
    return null;
  }
};
const server = (t: string) => {
  const r = parseArgs(["--memory", "--compact-every", "1h", "--compact-max-age", t], {});
  return r.kind === "run" ? r.config.compaction!.policy.maxAgeMs! : null;
};

test("the grammar's table: library, ckpt and ckpt-server agree on every row", () => {
  for (const [text, want] of TABLE) {
    assert.is(core(text), want, `library: ${JSON.stringify(text)}`);
    assert.is(cli(text), want, `ckpt: ${JSON.stringify(text)}`);
    assert.is(server(text), want, `ckpt-server: ${JSON.stringify(text)}`);
  }
  assert.is(fromRetention, parseDuration, "core/retention.ts re-exports the same parser");
});

test("non-strings are CKPT_INVALID, not a TypeError", () => {
  for (const bad of [undefined, null, 5, {}, ["7d"]]) {
    try {
      parseDuration(bad as unknown as string);
      assert.unreachable();
    } catch (e) {
      assert.is((e as { code?: string }).code, "CKPT_INVALID");
    }
  }
});

test("ckpt-server: two targets are refused", () => {
  for (
    const argv of [
      ["--store", "x", "--memory"],
      ["--store", "x", "--eventstore", "esdb://h:2113"],
      ["--memory", "--eventstore", "esdb://h:2113"],
    ]
  ) {
    assert.is(parseArgs(argv, {}).kind, "error", argv.join(" "));
  }
  assert.is(
    parseArgs([], { CKPT_STORE: "x", CKPT_MEMORY: "1" }).kind,
    "error",
    "two targets in the environment",
  );
  const flagWins = parseArgs(["--store", "x"], { CKPT_MEMORY: "1" });
  assert.ok(
    flagWins.kind === "run" && flagWins.config.target.kind === "level" &&
      flagWins.config.target.path === "x",
    "a flag overrides the environment's target",
  );
  const memory = parseArgs(["--memory"], { CKPT_STORE: "x", CKPT_EVENTSTORE: "esdb://h:2113" });
  assert.ok(memory.kind === "run" && memory.config.target.kind === "memory");
});

test.run();
