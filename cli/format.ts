/** Text formatting for humans: tables, numbers, durations, times, progress bars and colour. */
import type { ProgressFigures } from "../core/progress.ts";
import type { Status } from "../core/state.ts";

const ESC = "\x1b[";

/** ANSI styles that are no-ops when colour is off, so callers never branch on it. */
export function palette(on: boolean) {
  const s =
    (open: number, close: number) => (t: string) => (on ? `${ESC}${open}m${t}${ESC}${close}m` : t);
  return {
    bold: s(1, 22),
    dim: s(2, 22),
    red: s(31, 39),
    green: s(32, 39),
    yellow: s(33, 39),
    blue: s(34, 39),
    cyan: s(36, 39),
  } as const;
}
export type Palette = ReturnType<typeof palette>;

/** Status words coloured by what they ask of the reader. */
export function statusText(status: Status, p: Palette, stale = false): string {
  const word = stale ? `${status} (stale)` : status;
  if (stale) return p.yellow(word);
  switch (status) {
    case "completed":
      return p.green(word);
    case "failed":
      return p.red(word);
    case "running":
      return p.cyan(word);
    case "recovering":
    case "paused":
      return p.yellow(word);
    default:
      return p.dim(word);
  }
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** Width on screen, ignoring colour codes. */
export function visibleLength(s: string): number {
  return s.replace(ANSI, "").length;
}

/**
 * Cuts `s` to `width` visible characters (keeping colour codes balanced by cutting only plain
 * text).
 */
export function truncate(s: string, width: number): string {
  if (visibleLength(s) <= width) return s;
  const plain = s.replace(ANSI, "");
  return width <= 1 ? plain.slice(0, width) : plain.slice(0, width - 1) + "…";
}

/**
 * Columns padded to their widest cell; `right` names the columns aligned right (numbers).
 * @example table(["STAGE", "DONE"], [["fetch", "10"]], { right: [1] })
 */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  o: { right?: readonly number[]; p?: Palette } = {},
): string {
  const widths = header.map((h, i) =>
    Math.max(visibleLength(h), ...rows.map((r) => visibleLength(r[i] ?? "")))
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => {
        const pad = " ".repeat(Math.max(0, widths[i]! - visibleLength(c)));
        return o.right?.includes(i) ? pad + c : i === cells.length - 1 ? c : c + pad;
      })
      .join("  ")
      .trimEnd();
  const head = line(header);
  return [o.p ? o.p.bold(head) : head, ...rows.map(line)].join("\n") + "\n";
}

/** Grouped integer: 1234567 → "1,234,567". */
export function int(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

export function percent(x: number | null, digits = 1): string {
  return x === null ? "–" : `${x.toFixed(digits)}%`;
}

/** "done/total (pct)", or just "done" without a total. */
export function progressText(p: ProgressFigures): string {
  return p.total === null ? int(p.done) : `${int(p.done)}/${int(p.total)} (${percent(p.percent)})`;
}

/** Items per second with sensible precision: "1,234/s", "12.3/s", "0.05/s". */
export function rate(perSecond: number | null): string {
  if (perSecond === null) return "–";
  if (perSecond >= 100) return `${int(perSecond)}/s`;
  if (perSecond >= 1) return `${perSecond.toFixed(1)}/s`;
  return `${perSecond.toFixed(2)}/s`;
}

/** A cost with at most 4 decimals and no trailing zeros. */
export function cost(c: number): string {
  return c === 0 ? "0" : String(Number(c.toFixed(4)));
}

/** Compact duration: "850ms", "42s", "3m 05s", "2h 07m", "3d 4h". */
export function duration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return "–";
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function eta(seconds: number | null): string {
  return seconds === null ? "–" : seconds === 0 ? "done" : duration(seconds * 1000);
}

/** "3m 05s ago" relative to `now`, or "–". */
export function ago(at: number | null, now: number): string {
  if (at === null) return "–";
  const d = now - at;
  return d < 1000 ? "just now" : `${duration(d)} ago`;
}

/** ISO 8601 in UTC, so a time printed here can be pasted into `--from`, `--to` or `--at`. */
export function time(at: number | null): string {
  return at === null ? "–" : new Date(at).toISOString();
}

/** A bar `width` cells wide, e.g. "████████░░░░". Without a total, an empty track. */
export function bar(fraction: number | null, width: number, p: Palette): string {
  if (width <= 0) return "";
  if (fraction === null) return p.dim("░".repeat(width));
  const full = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return p.green("█".repeat(full)) + p.dim("░".repeat(width - full));
}

/** `key: value` lines with keys padded to one column. */
export function fields(rows: readonly (readonly [string, string])[], indent = "  "): string {
  const w = Math.max(0, ...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${indent}${(k + ":").padEnd(w + 1)} ${v}`).join("\n") + "\n";
}

/** A short id for display: the first 8 characters of a UUID. */
export function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}

/**
 * ETA only means something while a stage runs: "done" once completed, "–" when paused, failed or
 * stale.
 */
export function etaFor(status: Status, p: ProgressFigures): string {
  if (status === "completed") return "done";
  return (status === "running" || status === "recovering") && !p.stale ? eta(p.etaSeconds) : "–";
}

/** Bytes in binary units: "512 B", "1.5 KiB", "12.0 MiB". */
export function bytes(n: number | null): string {
  if (n === null) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = Math.abs(n);
  let u = 0;
  while (v >= 1024 && u < units.length - 1) (v /= 1024), u++;
  return `${n < 0 ? "-" : ""}${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}
