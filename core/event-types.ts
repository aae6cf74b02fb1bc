/**
 * The events' TypeScript types, written out rather than inferred from the zod schemas in events.ts,
 * so the published types are explicit (JSR's "no slow types") and quick for users' compilers.
 * events.ts checks at compile time that these and the schemas describe the same events: a field
 * added to one only fails `tsc`. Type aliases, not interfaces: like the inferred types before them,
 * they fit `Record<string, unknown>`.
 */

/** The outcome of one item: it succeeded, failed for good, or was deliberately skipped. */
export type Outcome = "ok" | "failed" | "skipped";

/** Which process holds a running stage. */
export type Owner = {
  host: string;
  pid: number;
  runId: string;
};

type EventBase<T extends string> = {
  type: T;
  v: 1;
  at: number;
};

export type RunStartedEvent = EventBase<"run.started"> & {
  runId: string;
  owner?: Owner;
  total?: number;
  /** SHA-256 (hex) of the input file or bytes the run works through. */
  input?: string;
  /** SHA-256 (hex) of the config as canonical JSON. */
  config?: string;
  /** How long (ms) the owner may stay silent before another process may take the stage over. */
  leaseMs?: number;
};
export type ItemEvent = EventBase<"item"> & {
  index: number;
  outcome: Outcome;
  item?: string;
  batch?: string;
  cost?: number;
  error?: string;
};
export type ItemReopenedEvent = EventBase<"item.reopened"> & {
  index: number;
  reason?: string;
};
export type ProgressEvent = EventBase<"progress"> & {
  total?: number;
  /** Items counted without an index (for pipelines that only count). */
  ok?: number;
  failed?: number;
  skipped?: number;
  cost?: number;
  message?: string;
};
export type UnitEvent = EventBase<"unit"> & {
  key: string;
  status: "running" | "complete" | "failed";
  /** Last page fully written; resume from the next one. */
  page?: number;
  records?: number;
  retryable?: boolean;
  error?: string;
};
export type ErrorEvent = EventBase<"error"> & {
  message: string;
  retryable: boolean;
  index?: number;
  item?: string;
};
export type PausedEvent = EventBase<"paused"> & {
  reason?: string;
};
export type ResumedEvent = EventBase<"resumed">;
export type CrashDetectedEvent = EventBase<"crash.detected"> & {
  runId?: string;
  owner?: Owner;
  reason?: string;
};
export type CompletedEvent = EventBase<"completed"> & {
  metadata?: Record<string, unknown>;
};
export type FailedEvent = EventBase<"failed"> & {
  message: string;
  retryable?: boolean;
};
export type ResetEvent = EventBase<"reset"> & {
  reason?: string;
};
export type MetadataEvent = EventBase<"metadata"> & {
  metadata: Record<string, unknown>;
};
export type HeartbeatEvent = EventBase<"heartbeat"> & {
  runId: string;
};
/** A state checkpoint (core/checkpoints.ts): any msgpack-able value a loop saves to resume from. */
export type CheckpointEvent = EventBase<"checkpoint"> & {
  step?: number;
  metadata?: Record<string, unknown>;
  /** Size of `state` as msgpack, checked against the limit before anything is written. */
  bytes: number;
  /** The value saved: anything msgpack can encode but `undefined`. */
  state: {} | null;
};

/** Every event a stage's log holds. */
export type CkptEvent =
  | RunStartedEvent
  | ItemEvent
  | ItemReopenedEvent
  | ProgressEvent
  | UnitEvent
  | ErrorEvent
  | PausedEvent
  | ResumedEvent
  | CrashDetectedEvent
  | CompletedEvent
  | FailedEvent
  | ResetEvent
  | MetadataEvent
  | HeartbeatEvent
  | CheckpointEvent;
