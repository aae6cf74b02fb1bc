/**
 * Auth: every route × no token / wrong token / read / write / admin, through app.request() and
 * over real HTTP. Refused requests are 401 or 403 with a clear code and write nothing.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { authenticate, parseTokens, type Role } from "../../server/auth.ts";
import type { RouteSpec } from "../../server/route.ts";
import { caller, type Sidecar, sidecar, TOKENS } from "./helpers.ts";

const RANK: Record<Role, number> = { read: 1, write: 2, admin: 3 };
const who = {
  none: undefined,
  wrong: "not-a-known-token-0000",
  read: TOKENS.read,
  write: TOKENS.write,
  admin: TOKENS.admin,
} as const;
let app: Sidecar;
let http: Sidecar;

test.before(async () => {
  app = await sidecar({ auth: true });
  http = await sidecar({ auth: true, serve: true });
});
test.after(async () => {
  await app.close();
  await http.close();
});

function request(r: RouteSpec, token: string | undefined): [string, RequestInit] {
  const path = r.path.replace(":stage", "auth-s").replace(":stream", "auth-s").replace(
    ":runId",
    "r-1",
  );
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  if (r.body) headers["content-type"] = "application/json";
  return [path, { method: r.method, headers, ...(r.body ? { body: "{}" } : {}) }];
}

for (const transport of ["app", "http"] as const) {
  test(`[${transport}] every route × every kind of caller`, async () => {
    const s = transport === "app" ? app : http;
    const call = caller(s, transport);
    let checked = 0;
    for (const r of s.ckpt.routes) {
      for (const [name, token] of Object.entries(who) as [keyof typeof who, string | undefined][]) {
        const before = JSON.stringify(await s.inner.streams());
        const res = await call(...request(r, token));
        const text = res.headers.get("content-type")?.includes("event-stream")
          ? ""
          : await res.text();
        await res.body?.cancel().catch(() => undefined);
        const label = `${r.method} ${r.path} as ${name}`;
        checked++;
        if (r.role === null) {
          assert.ok(res.status !== 401 && res.status !== 403, `${label}: public`);
          continue;
        }
        if (name === "none" || name === "wrong") {
          assert.is(res.status, 401, label);
          assert.is(JSON.parse(text).error.code, "CKPT_UNAUTHORIZED", label);
          assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/, label);
        } else if (RANK[name] < RANK[r.role]) {
          assert.is(res.status, 403, label);
          const e = JSON.parse(text).error;
          assert.is(e.code, "CKPT_FORBIDDEN", label);
          assert.match(e.message, `needs the ${r.role} role; your token has ${name}`, label);
        } else {
          assert.ok(
            res.status !== 401 && res.status !== 403 && res.status < 500,
            `${label}: allowed, got ${res.status} ${text}`,
          );
          continue;
        }
        assert.is(
          JSON.stringify(await s.inner.streams()),
          before,
          `${label}: a refused request writes nothing`,
        );
      }
    }
    assert.is(checked, s.ckpt.routes.length * 5);
  });
}

test("routes cover the three roles and the public ones", () => {
  const roles = new Set(app.ckpt.routes.map((r) => r.role));
  assert.equal([...roles].sort(), ["admin", "read", "write", null].sort());
  const byPath = (m: string, p: string) =>
    app.ckpt.routes.find((r) => r.method === m && r.path === p)?.role;
  assert.is(byPath("POST", "/v1/log/streams/:stream/events"), "write");
  assert.is(byPath("DELETE", "/v1/log/streams/:stream"), "admin");
  assert.is(byPath("POST", "/v1/compact"), "admin");
  assert.is(byPath("GET", "/metrics"), "read");
  assert.is(byPath("GET", "/healthz"), null);
});

test("tokens: parsed from env or file syntax, refused when malformed", () => {
  const t = parseTokens("# comment\nadmin:a-secret\n\nread:r-secret, write:w:with:colons", "file");
  assert.equal(t.map((e) => e.role), ["admin", "read", "write"]);
  assert.is(authenticate(t, "Bearer w:with:colons", "read"), "write");
  assert.is(authenticate(t, "bearer r-secret", "read"), "read", "the scheme is case-insensitive");
  for (const bad of ["root:x", "admin", "admin:", "write:has space"]) {
    assert.throws(() => parseTokens(bad, "CKPT_TOKENS"), /CKPT_TOKENS/);
  }
});

test("tokens: the best role wins when one secret is listed twice; no table means no auth", () => {
  const t = parseTokens("read:same-secret,admin:same-secret", "x");
  assert.is(authenticate(t, "Bearer same-secret", "read"), "admin");
  assert.is(authenticate([], null, "admin"), "admin");
  assert.throws(
    () => authenticate(t, "Basic dXNlcjpwYXNz", "read"),
    (e: Error & { code?: string }) => e.code === "CKPT_UNAUTHORIZED",
  );
  assert.throws(
    () => authenticate(t, "Bearer same-secret-not", "read"),
    (e: Error & { code?: string }) => e.code === "CKPT_UNAUTHORIZED",
  );
});

test.run();
