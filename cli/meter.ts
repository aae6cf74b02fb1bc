/**
 * A progress line on stderr for long operations (replay, export, compact, verify), drawn only on a
 * TTY.
 */
import type { Ctx } from "./context.ts";
import { Interrupted } from "./errors.ts";
import { bar, int, palette, truncate, visibleLength } from "./format.ts";

export interface Meter {
  /**
   * Adds `n` units of work done; redraws at most ten times a second. Throws Interrupted after
   * Ctrl+C.
   */
  tick(n?: number): void;
  /** Raises the expected total (e.g. when the next stage's size becomes known). */
  grow(n: number): void;
  /** Names what is being worked on now. */
  label(text: string): void;
  /** Clears the line, so what is printed next starts clean. */
  done(): void;
}

/**
 * `show` decides whether to draw at all: commands whose stdout is the same terminal pass false
 * there so the meter does not fight their output.
 */
export function meter(ctx: Ctx, unit: string, total = 0, show = ctx.isTTY.stderr): Meter {
  const p = palette(ctx.color);
  let done = 0;
  let what = "";
  let last = 0;
  let drawn = false;
  const draw = () => {
    const frac = total > 0 ? done / total : null;
    const width = Math.max(10, Math.min(30, ctx.columns - 60));
    const count = total > 0 ? `${int(done)}/${int(total)} ${unit}` : `${int(done)} ${unit}`;
    const head = `${bar(frac, width, p)} ${count}`;
    const room = ctx.columns - 1 - visibleLength(head) - 2;
    void ctx.stderr.write(`\r\x1b[2K${head}${what && room > 3 ? `  ${truncate(what, room)}` : ""}`);
    drawn = true;
  };
  return {
    tick(n = 1) {
      done += n;
      if (ctx.signal.aborted) throw new Interrupted();
      if (!show) return;
      const now = ctx.now();
      if (now - last >= 100) (last = now), draw();
    },
    grow(n) {
      total += n;
    },
    label(text) {
      what = text;
    },
    done() {
      if (drawn) void ctx.stderr.write("\r\x1b[2K");
      drawn = false;
    },
  };
}
