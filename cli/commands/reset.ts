/**
 * `ckpt reset <stage>|--all`: starts stages over (or deletes them); asks on a terminal, needs
 * --force otherwise.
 */
import { progressOf } from "../../core/progress.ts";
import { bool, str } from "../args.ts";
import { type Command, STORE_FLAGS } from "../command.ts";
import { UsageError } from "../errors.ts";
import { palette, progressText } from "../format.ts";
import { selectStages } from "../stages.ts";
import { stageName } from "../values.ts";

const CMD = "ckpt reset";

export const resetCommand: Command = {
  name: "reset",
  summary:
    "start stages over (state and resume point emptied, history kept); --delete removes them",
  positionals: [{ name: "stage", description: "the stages to reset", variadic: true }],
  flags: {
    all: { type: "boolean", description: "every stage in the store" },
    force: {
      type: "boolean",
      short: "f",
      description: "do not ask (required when stdin is not a terminal)",
    },
    delete: { type: "boolean", description: "remove the stages and their whole history instead" },
    reason: {
      type: "string",
      value: "<text>",
      description: 'recorded in the reset event (default: "ckpt reset")',
    },
    ...STORE_FLAGS,
  },
  details:
    "On a terminal it lists what will be reset and asks y/N (answering no exits 1). Off a terminal (scripts, CI)\n" +
    "it refuses with exit 2 unless --force is given, so a stray pipe can never wipe a resume point.",
  examples: [
    "ckpt reset fetch",
    "ckpt reset --all --force",
    "ckpt reset old-stage --delete --force",
  ],
  async run(args, ctx) {
    const all = bool(args, "all");
    if (all === (args.positionals.length > 0)) {
      throw new UsageError(
        all ? "give stage names or --all, not both." : "name the stages to reset, or pass --all.",
        CMD,
      );
    }
    if (bool(args, "delete") && str(args, "reason") !== undefined) {
      throw new UsageError(
        "--reason is recorded by a reset; --delete leaves nothing to record it in.",
        CMD,
      );
    }
    const names = args.positionals.map((n) => stageName(n, CMD));
    const force = bool(args, "force");
    if (!force && !ctx.isTTY.stdin) {
      throw new UsageError(
        "refusing to reset without --force: stdin is not a terminal, so nobody can confirm. Add --force.",
        CMD,
      );
    }
    const store = await ctx.store();
    const stages = await selectStages(store, names, ctx.target);
    const verb = bool(args, "delete") ? "delete" : "reset";
    if (stages.length === 0) {
      await ctx.stdout.write(`No stages in ${ctx.target}; nothing to ${verb}.\n`);
      return 0;
    }
    const p = palette(ctx.color);
    const now = ctx.now();
    const states = await Promise.all(stages.map((n) => store.stage(n).state()));
    if (!force) {
      await ctx.stderr.write(
        `About to ${verb} ${stages.length} stage${
          stages.length === 1 ? "" : "s"
        } in ${ctx.target}:\n`,
      );
      for (const s of states) {
        await ctx.stderr.write(`  ${s.stage}  ${s.status}  ${progressText(progressOf(s, now))}\n`);
      }
      await ctx.stderr.write(
        verb === "delete"
          ? p.red("Their whole history will be removed.\n")
          : "Their state and resume point will be emptied; their history is kept.\n",
      );
      const answer = await ctx.prompt(`${verb === "delete" ? "Delete" : "Reset"}? [y/N] `);
      if (!/^(y|yes)$/i.test(answer?.trim() ?? "")) {
        await ctx.stderr.write(
          `Aborted; nothing was ${verb === "delete" ? "deleted" : "reset"}.\n`,
        );
        return 1;
      }
    }
    for (const s of states) {
      const stage = store.stage(s.stage);
      if (verb === "delete") {
        await stage.delete();
        await ctx.stdout.write(
          `Deleted ${s.stage} and its history (was ${s.status}, ${
            progressText(progressOf(s, now))
          }).\n`,
        );
      } else {
        await stage.reset({ reason: str(args, "reason") ?? "ckpt reset" });
        await ctx.stdout.write(
          `Reset ${s.stage} (was ${s.status}, ${
            progressText(progressOf(s, now))
          }); its history is kept.\n`,
        );
      }
    }
    return 0;
  },
};
