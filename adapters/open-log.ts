/**
 * Opens the log a Target names (adapters/target.ts). Adapters other than LevelDB and memory are
 * imported on first use: the gRPC and PostgreSQL drivers cost startup time that others should not
 * pay, and they are optional peer dependencies, so a missing one breaks only its own target.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { CkptError, ErrorCode } from "../core/errors.ts";
import type { EventLog } from "../core/log.ts";
import { type Durability, levelLog } from "./level.ts";
import { memoryLog } from "./memory.ts";
import { segmentLog } from "./segments.ts";
import { MARKER as SEGMENTS_MARKER } from "./segments/folder.ts";
import { describeTarget, type Target } from "./target.ts";

export interface OpenLogOptions {
  /** LevelDB: "sync" (default) or "os". A segment log is always synchronous: "os" is CKPT_INVALID. */
  durability?: Durability | undefined;
  /**
   * LevelDB: a private read-only view (reading never writes a byte to the store). A segment log:
   * opened without its lock, beside the process that writes it.
   */
  readOnly?: boolean | undefined;
  /**
   * A segment log: write each group commit on the main thread (true, the default: for a pipeline
   * whose workers await their commits) or on libuv's threadpool (false: for a server, whose loop
   * has other requests to read and answer meanwhile).
   */
  blockingWrites?: boolean | undefined;
  /** EventStoreDB: stream name prefix (default "ckpt-"). */
  eventstorePrefix?: string | undefined;
}

/**
 * The target as it is on disk: a LevelDB target whose folder already holds a segment log's marker
 * is that segment log (so `ckpt list --store ./data` reads it without the `segments:` prefix).
 */
export function settleTarget(t: Target): Target {
  return t.kind === "level" && existsSync(join(t.path, SEGMENTS_MARKER))
    ? { kind: "segments", path: t.path }
    : t;
}

export async function openLog(target: Target, o: OpenLogOptions = {}): Promise<EventLog> {
  const t = settleTarget(target);
  switch (t.kind) {
    case "memory":
      return memoryLog();
    case "level":
      return levelLog(t.path, {
        ...(o.durability ? { durability: o.durability } : {}),
        ...(o.readOnly ? { readOnly: true } : {}),
      });
    case "segments": {
      if (o.durability === "os") {
        throw new CkptError(
          ErrorCode.INVALID,
          `durability "os" applies to LevelDB; ${
            describeTarget(t)
          } is a segment log, which writes every commit with O_DSYNC (leave durability unset).`,
          { issues: [{ path: ["durability"], message: "a segment log is always synchronous" }] },
        );
      }
      return segmentLog(t.path, {
        ...(o.readOnly ? { readOnly: true } : {}),
        ...(o.blockingWrites !== undefined ? { blocking: o.blockingWrites } : {}),
      });
    }
    case "http": {
      // connectHttpLog asks the sidecar what its log supports (and checks URL and token) up front.
      const { connectHttpLog } = await load(
        () => import("./http.ts"),
        "the ckpt-server client (adapters/http.ts) cannot be loaded",
      );
      return connectHttpLog({ url: t.url, ...(t.token ? { token: t.token } : {}) });
    }
    case "eventstore": {
      const { eventStoreLog } = await load(
        () => import("./eventstoredb.ts"),
        "EventStoreDB needs its client, an optional peer dependency: npm install @eventstore/db-client@6.2.1",
      );
      return eventStoreLog({
        connectionString: t.connectionString,
        ...(o.eventstorePrefix ? { prefix: o.eventstorePrefix } : {}),
      });
    }
    case "postgres": {
      const { postgresLog } = await load(
        () => import("./postgres.ts"),
        "the PostgreSQL adapter (adapters/postgres.ts) cannot be loaded",
      );
      return postgresLog({ url: t.url });
    }
  }
}

async function load<M>(importer: () => Promise<M>, what: string): Promise<M> {
  try {
    return await importer();
  } catch (err) {
    throw new CkptError(ErrorCode.UNAVAILABLE, `${what} (${(err as Error)?.message ?? err})`, {
      cause: err,
    });
  }
}
