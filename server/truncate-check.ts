/**
 * What the sidecar checks before it truncates a stream for a client: the base snapshot must be the
 * stage's own state just before the cut (what compaction computes), so no admin request can install
 * a base that no longer replays and poison every later read of the stage.
 */
import { CkptError, ErrorCode } from "../core/errors.ts";
import { sortedJson } from "../core/fingerprint.ts";
import type { EventLog, Snapshot } from "../core/log.ts";
import { toSnapshot } from "../core/projection.ts";
import { baseAt } from "../core/retention.ts";

/**
 * Throws CKPT_INVALID (nothing changed) unless truncating `stream` before `revision` with `base`
 * keeps its state.
 */
export async function checkTruncation(
  log: EventLog,
  stream: string,
  revision: number,
  base: Snapshot,
): Promise<void> {
  const info = await log.info(stream);
  if (!info || revision <= info.first) return; // nothing to remove: the log ignores it
  if (revision > info.head + 1) {
    throw refuse(stream, `revision ${revision} is past the head (${info.head}) + 1`);
  }
  // `ckpt import` installs a compacted export's base by truncating empty metadata events it
  // appended as placeholders; those carry no state, so any well-formed base of the right revision
  // may replace them.
  let placeholders = true;
  for await (const r of log.read(stream, { from: info.first, limit: revision - info.first })) {
    const e = r.event as { type: string; metadata?: object };
    if (e.type !== "metadata" || Object.keys(e.metadata ?? {}).length > 0) {
      placeholders = false;
      break;
    }
  }
  const expected = toSnapshot(await baseAt(log, info, revision));
  if (base.revision !== expected.revision) {
    throw refuse(
      stream,
      `the base must cover up to revision ${expected.revision}, not ${base.revision}`,
    );
  }
  if (base.version !== expected.version) {
    throw refuse(
      stream,
      `the base is from reducer version ${base.version}, this sidecar's is ${expected.version}`,
    );
  }
  if (!placeholders && sortedJson(base.state) !== sortedJson(expected.state)) {
    throw refuse(stream, "the base's state is not the state the events before the cut replay to");
  }
}

function refuse(stream: string, why: string): CkptError {
  return new CkptError(
    ErrorCode.INVALID,
    `Refused to truncate stream "${stream}": ${why}. Nothing was changed; compute the base with \`ckpt compact\` (or POST /v1/compact).`,
    {
      issues: [{ path: ["base"], message: why }],
      details: { stream },
    },
  );
}
