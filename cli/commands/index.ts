/** Every command, in the order `ckpt --help` lists them. */
import type { Command } from "../command.ts";
import { cleanupCommand, compactCommand } from "./compact.ts";
import { dashboardCommand } from "./dashboard.ts";
import { exportCommand } from "./export.ts";
import { importCommand } from "./import.ts";
import { itemCommand } from "./item.ts";
import { listCommand } from "./list.ts";
import { replayCommand } from "./replay.ts";
import { reportCommand } from "./report.ts";
import { resetCommand } from "./reset.ts";
import { serveCommand } from "./serve.ts";
import { showCommand } from "./show.ts";
import { verifyCommand } from "./verify.ts";
import { watchCommand } from "./watch.ts";

export const COMMANDS: readonly Command[] = [
  listCommand,
  showCommand,
  replayCommand,
  itemCommand,
  reportCommand,
  watchCommand,
  verifyCommand,
  resetCommand,
  exportCommand,
  importCommand,
  compactCommand,
  cleanupCommand,
  serveCommand,
  dashboardCommand,
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
