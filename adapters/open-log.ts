/**
 * Opens the log a Target names (adapters/target.ts). Adapters other than LevelDB and memory are
 * imported on first use: the gRPC and PostgreSQL drivers cost startup time that others should not
 * pay, and they are optional peer dependencies, so a missing one breaks only its own target.
 */
import { CkptError, ErrorCode } from "../core/errors.ts";
import type { EventLog } from "../core/log.ts";
import { type Durability, levelLog } from "./level.ts";
import { memoryLog } from "./memory.ts";
import type { Target } from "./target.ts";

export interface OpenLogOptions {
  /** LevelDB: "sync" (default) or "os". */
  durability?: Durability | undefined;
  /** LevelDB: a private read-only view (reading never writes a byte to the store). */
  readOnly?: boolean | undefined;
  /** EventStoreDB: stream name prefix (default "ckpt-"). */
  eventstorePrefix?: string | undefined;
}

export async function openLog(t: Target, o: OpenLogOptions = {}): Promise<EventLog> {
  switch (t.kind) {
    case "memory":
      return memoryLog();
    case "level":
      return levelLog(t.path, {
        ...(o.durability ? { durability: o.durability } : {}),
        ...(o.readOnly ? { readOnly: true } : {}),
      });
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
