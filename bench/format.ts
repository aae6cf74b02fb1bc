/** Number formatting for the table: rates, times, sizes, and a median with its min–max. */
import type { Spread } from "./stats.ts";

export function num(x: number): string {
  if (!Number.isFinite(x)) return "–";
  const a = Math.abs(x);
  if (a >= 1e6) return `${(x / 1e6).toFixed(a >= 1e7 ? 1 : 2)}M`;
  if (a >= 1e4) return `${Math.round(x / 1e3)}k`;
  if (a >= 1e3) return `${(x / 1e3).toFixed(1)}k`;
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

export const ms = (
  x: number,
): string => (Number.isFinite(x)
  ? (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3)) +
    " ms"
  : "–");

export const bytes = (x: number): string =>
  x >= 2 ** 30
    ? `${(x / 2 ** 30).toFixed(2)} GiB`
    : x >= 2 ** 20
    ? `${(x / 2 ** 20).toFixed(1)} MiB`
    : x >= 1024
    ? `${(x / 1024).toFixed(1)} KiB`
    : `${Math.round(x)} B`;

/** "median [min–max]" with a formatter for each number. */
export function range(s: Spread, f: (x: number) => string = num, suffix = ""): string {
  if (s.rounds.length <= 1) return f(s.median) + suffix;
  return `${f(s.median)}${suffix} [${f(s.min)}–${f(s.max)}]`;
}

export const ratio = (s: Spread): string =>
  range(s, (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)), "×");

export const pow10 = (n: number): string => {
  const e = Math.log10(n);
  return Number.isInteger(e) ? `10^${e}` : n.toLocaleString("en-US");
};
