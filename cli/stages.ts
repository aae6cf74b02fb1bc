/**
 * Looking stages up for commands: a missing stage is CKPT_NOT_FOUND naming the closest existing
 * one.
 */
import { CkptError, ErrorCode } from "../core/errors.ts";
import type { Stage } from "../core/stage.ts";
import type { Store } from "../core/store.ts";
import { suggest } from "./args.ts";

/** The stage, when it has events; CKPT_NOT_FOUND (with a suggestion) otherwise. */
export async function existingStage(store: Store, name: string, target: string): Promise<Stage> {
  const stage = store.stage(name);
  if (await stage.exists()) return stage;
  const names = (await store.log.streams()).map((s) => s.stream);
  const guess = suggest(name, names);
  const hint = guess
    ? ` Did you mean "${guess}"?`
    : names.length
    ? ` It has ${names.length} stage${names.length === 1 ? "" : "s"}; \`ckpt list\` shows them.`
    : " It has no stages yet.";
  throw new CkptError(ErrorCode.NOT_FOUND, `No stage "${name}" in ${target}.${hint}`, {
    details: { stage: name },
  });
}

/** The named stages (each must exist), or every stage when none is named. */
export async function selectStages(
  store: Store,
  names: readonly string[],
  target: string,
): Promise<string[]> {
  if (names.length === 0) return (await store.log.streams()).map((s) => s.stream);
  for (const n of names) await existingStage(store, n, target);
  return [...names];
}
