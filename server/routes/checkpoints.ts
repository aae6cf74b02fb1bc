/**
 * State checkpoints over HTTP: the latest (with its state) and the list (without), read straight
 * from the log.
 */
import { type CheckpointInfo, infoOf, readCheckpoints } from "../../core/checkpoints.ts";
import { CkptError, ErrorCode } from "../../core/errors.ts";
import type { ServerContext } from "../context.ts";
import { route, type RouteSpec } from "../route.ts";
import { ErrorResponse } from "../../protocol/common.ts";
import { Stages } from "../../protocol/stages.ts";

const err = (description: string) => ({ description, schema: ErrorResponse });

export function checkpointRoutes(ctx: ServerContext): RouteSpec[] {
  const { log } = ctx;
  const missing = (stage: string) =>
    new CkptError(ErrorCode.NOT_FOUND, `Stage "${stage}" does not exist (it has no events).`, {
      details: { stage },
    });
  return [
    route({
      ...Stages.latestCheckpoint,
      role: "read",
      summary:
        "The newest state checkpoint since the stage's last reset, with its state (404 CKPT_NOT_FOUND when there is none)",
      responses: {
        200: { description: "the checkpoint" },
        404: err("no such stage, or no checkpoint saved"),
      },
      handle: async (c, { params }) => {
        if (!(await log.projection(params.stage))) throw missing(params.stage);
        const [latest] = await readCheckpoints(log, params.stage, 1);
        if (!latest) {
          throw new CkptError(
            ErrorCode.NOT_FOUND,
            `Stage "${params.stage}" has no state checkpoint (since its last reset).`,
            { details: { stage: params.stage, checkpoint: null } },
          );
        }
        return c.json(latest);
      },
    }),
    route({
      ...Stages.checkpoints,
      role: "read",
      summary: "Saved state checkpoints without their state, newest first (?limit=, default 100)",
      responses: { 200: { description: "the checkpoints" }, 404: err("no such stage") },
      handle: async (c, { params, query }) => {
        if (!(await log.projection(params.stage))) throw missing(params.stage);
        const checkpoints: CheckpointInfo[] =
          (await readCheckpoints(log, params.stage, query.limit ?? 100)).map(infoOf);
        return c.json({ checkpoints });
      },
    }),
  ];
}
