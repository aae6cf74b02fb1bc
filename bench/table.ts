/** Renders result rows as a plain-text table, grouped by figure, columns sized to their content. */

export interface Row {
  /** The figure this row belongs to (printed once, as a group heading). */
  figure: string;
  subject: string;
  /** Median [min–max]. */
  value: string;
  /** Latency, group size, memory, or what limited it. */
  detail?: string;
  /**
   * Peak RSS while the row was measured (bench/peak.ts): of the process named, else of the bench
   * process.
   */
  rss?: string;
  /** Ratio against a baseline, per round. */
  ratio?: string;
  target?: string;
  /** "met", "MISSED by …", or a reason the figure is absent. */
  verdict?: string;
}

const COLUMNS = [
  ["subject", "subject"],
  ["value", "median [min–max]"],
  ["detail", "detail"],
  ["rss", "peak RSS"],
  ["ratio", "ratio (per round)"],
  ["target", "target"],
  ["verdict", "verdict"],
] as const;

export function renderTable(rows: readonly Row[]): string {
  const width = COLUMNS.map(([k, title]) =>
    Math.max(title.length, ...rows.map((r) => (r[k] ?? "").length))
  );
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(width[i]!)).join("  ").trimEnd();
  const out = [line(COLUMNS.map(([, t]) => t)), width.map((w) => "-".repeat(w)).join("  ")];
  let figure = "";
  for (const r of rows) {
    if (r.figure !== figure) {
      figure = r.figure;
      out.push("", `${figure}`);
    }
    out.push(line(COLUMNS.map(([k]) => r[k] ?? "")));
  }
  return out.join("\n");
}
