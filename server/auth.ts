/**
 * Bearer tokens with roles. read < write < admin; a token grants its role and those below it.
 * Tokens are compared as SHA-256 digests with timingSafeEqual against every entry, so neither the
 * match nor its position leaks through timing.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { HttpCode, HttpError } from "./errors.ts";

export const Role = { read: "read", write: "write", admin: "admin" } as const;
export type Role = (typeof Role)[keyof typeof Role];

const RANK: Readonly<Record<Role, number>> = { read: 1, write: 2, admin: 3 };

export interface TokenEntry {
  role: Role;
  digest: Uint8Array;
}

/** No entries: auth is off (the listener then binds to loopback only). */
export type TokenTable = readonly TokenEntry[];

const digest = (token: string): Uint8Array =>
  new Uint8Array(createHash("sha256").update(token, "utf8").digest());

/**
 * Parses `role:secret` entries separated by commas or new lines (`#` starts a comment line).
 * @example parseTokens("admin:s3cret-admin,write:s3cret-writer", "CKPT_TOKENS")
 */
export function parseTokens(spec: string, source: string): TokenTable {
  const out: TokenEntry[] = [];
  const entries = spec.split(/[\n,]/).map((l) => l.trim()).filter((l) =>
    l !== "" && !l.startsWith("#")
  );
  for (const entry of entries) {
    const colon = entry.indexOf(":");
    const role = entry.slice(0, colon).trim();
    const secret = entry.slice(colon + 1).trim();
    if (colon < 0 || !(role in RANK)) {
      throw new Error(
        `${source}: expected "role:token" with role read, write or admin, got "${
          entry.slice(0, Math.max(colon, 0)) || "(no role)"
        }:…".`,
      );
    }
    if (secret.length === 0 || /\s/.test(secret)) {
      throw new Error(`${source}: the ${role} token is empty or contains spaces.`);
    }
    out.push({ role: role as Role, digest: digest(secret) });
  }
  return out;
}

/** The role the request's token grants; throws 401 when the token is missing or unknown. */
export function authenticate(table: TokenTable, header: string | null, need: Role): Role {
  if (table.length === 0) return Role.admin;
  const m = header ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header) : null;
  const challenge = { "WWW-Authenticate": 'Bearer realm="ckpt"' };
  if (!m) {
    throw new HttpError(
      HttpCode.UNAUTHORIZED,
      `This endpoint needs a token with the ${need} role: send "Authorization: Bearer <token>".`,
      { headers: challenge },
    );
  }
  const given = digest(m[1]!);
  let found: Role | undefined;
  for (const entry of table) {
    // Every entry is compared, and the best role kept, whatever matched first.
    if (
      timingSafeEqual(entry.digest, given) &&
      (found === undefined || RANK[entry.role] > RANK[found])
    ) found = entry.role;
  }
  if (found === undefined) {
    throw new HttpError(
      HttpCode.UNAUTHORIZED,
      "The bearer token is not one this sidecar knows; check CKPT_TOKENS or the tokens file.",
      { headers: challenge },
    );
  }
  return found;
}

/** Throws 403 unless `role` includes `need`. */
export function authorize(role: Role, need: Role): void {
  if (RANK[role] < RANK[need]) {
    throw new HttpError(
      HttpCode.FORBIDDEN,
      `This endpoint needs the ${need} role; your token has ${role}.`,
    );
  }
}
