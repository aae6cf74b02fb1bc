/**
 * No credential in a target ever reaches the CLI's output: the http URL, EventStoreDB and
 * PostgreSQL strings alike.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { memoryLog } from "../../adapters/memory.ts";
import { Store } from "../../core/store.ts";
import { runtimePlatform } from "../../runtime/platform.ts";
import { cli } from "./helpers.ts";

// The target is opened as an empty memory store, so `list` prints "No stages in <target>." for
// each.
const TARGETS = [
  ["--url", "http://alice:s3cr3t@127.0.0.1:7410"],
  ["--url", "https://alice:s3cr3t@sidecar.example/?token=s3cr3t"],
  ["--eventstore", "esdb://admin:s3cr3t@db:2113?tls=false"],
  ["--store", "postgres://ckpt:s3cr3t@db/ckpt?sslpassword=s3cr3t"],
] as const;

for (const [flag, value] of TARGETS) {
  test(`ckpt list ${flag} ${value.replace("s3cr3t", "…")}: the banner names the host, never the password`, async () => {
    const opened: string[] = [];
    const r = await cli(["list", flag, value], {
      open: async (t) => {
        opened.push(t.kind);
        return new Store(memoryLog(), { platform: runtimePlatform });
      },
    });
    assert.is(r.code, 0, r.err);
    assert.is(opened.length, 1);
    assert.match(r.out, /No stages in /);
    assert.not.match(r.out + r.err, /s3cr3t/);
    assert.match(r.out, /@(127\.0\.0\.1|sidecar\.example|db)/);
  });
}

test.run();
