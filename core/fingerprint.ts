/** Input fingerprints and config digests: SHA-256 over bytes and over canonical JSON. */
import { CkptError, ErrorCode } from "./errors.ts";

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function hex(buf: ArrayBuffer): string {
  const b = new Uint8Array(buf);
  let s = "";
  for (let i = 0; i < b.length; i++) s += HEX[b[i]!];
  return s;
}

export async function sha256(bytes: Uint8Array | string): Promise<string> {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  return hex(await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));
}

/**
 * JSON with object keys sorted at every level, so equal configs digest equally whatever
 * order their keys were written in. Refuses values JSON cannot represent faithfully.
 * @example canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] }) // '{"a":[2,{"c":4,"d":3}],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  const seen = new Set<object>();
  const walk = (v: unknown, path: string): string => {
    if (v === null) return "null";
    switch (typeof v) {
      case "string":
      case "boolean":
        return JSON.stringify(v);
      case "number":
        if (!Number.isFinite(v)) throw invalid(path, "is not a finite number");
        return JSON.stringify(v);
      case "object": {
        if (seen.has(v)) throw invalid(path, "is circular");
        seen.add(v);
        let out: string;
        if (Array.isArray(v)) out = `[${v.map((x, i) => walk(x, `${path}[${i}]`)).join(",")}]`;
        else {
          const o = v as Record<string, unknown>;
          const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
          out = `{${
            keys.map((k) => `${JSON.stringify(k)}:${walk(o[k], `${path}.${k}`)}`).join(",")
          }}`;
        }
        seen.delete(v);
        return out;
      }
      default:
        throw invalid(path, `is a ${typeof v}, which JSON cannot hold`);
    }
  };
  return walk(value, "config");
}

/**
 * JSON with object keys sorted at every level, as lenient as JSON.stringify: for comparing two
 * values (a state with the one a base should hold, an event with the one stored), not for digests.
 */
export function sortedJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, x) =>
      x && typeof x === "object" && !Array.isArray(x)
        ? Object.fromEntries(
          Object.entries(x as Record<string, unknown>).sort((
            [a],
            [b],
          ) => (a < b ? -1 : a > b ? 1 : 0)),
        )
        : x,
  );
}

function invalid(path: string, what: string): CkptError {
  return new CkptError(ErrorCode.INVALID, `${path} ${what}; configs must be plain JSON data.`, {
    issues: [{ path: path.split("."), message: what }],
  });
}

/** SHA-256 of the config's canonical JSON. */
export function configDigest(config: unknown): Promise<string> {
  return sha256(canonicalJson(config));
}
