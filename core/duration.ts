/**
 * The one duration grammar, shared by the library, `ckpt` flags and `ckpt-server` flags/env: one or
 * more `<number><unit>` parts with no spaces, units ms s m h d w, e.g. `90s`, `1h30m`, `1.5h`. A
 * bare number is refused (seconds or milliseconds? say `0s` or `3600000ms`).
 */
import { CkptError, ErrorCode } from "./errors.ts";

export const DURATION_UNITS = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
} as const;

const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;

/** Does `text` follow the duration grammar? */
export function isDuration(text: string): boolean {
  return typeof text === "string" && WHOLE.test(text);
}

/**
 * Milliseconds in a duration (rounded to whole ms). CKPT_INVALID for anything else.
 * @example parseDuration("1h30m") // 5400000
 */
export function parseDuration(text: string): number {
  if (!isDuration(text)) {
    const hint = typeof text === "string" && /^\s*\d+(\.\d+)?\s*$/.test(text)
      ? ` Add a unit: ${text.trim()}ms or ${text.trim()}s?`
      : "";
    throw new CkptError(
      ErrorCode.INVALID,
      `Cannot read duration ${
        JSON.stringify(text)
      }: use numbers with units ms, s, m, h, d or w, no spaces (e.g. 90s, 1h30m, 7d).${hint}`,
      {
        issues: [{ path: [], message: "expected a duration such as 90s, 1h30m or 7d" }],
      },
    );
  }
  let ms = 0;
  for (const p of text.matchAll(PART)) {
    ms += Number(p[1]) * DURATION_UNITS[p[2] as keyof typeof DURATION_UNITS];
  }
  ms = Math.round(ms);
  if (!Number.isSafeInteger(ms)) {
    throw new CkptError(ErrorCode.INVALID, `Duration ${JSON.stringify(text)} is too long.`, {
      issues: [{ path: [], message: "too long" }],
    });
  }
  return ms;
}
