/**
 * The shape every durable-update contender implements, ckpt and baselines alike, so one driver
 * measures all.
 */

export interface Subject {
  /** Row label, e.g. "ckpt LevelDB sync". */
  readonly label: string;
  /** Key in the JSON results. */
  readonly key: string;
  /** Records update `index`; resolves once it is durable (as durable as the subject promises). */
  update(index: number): Promise<void> | void;
  /**
   * Told the number of concurrent workers before each measurement (hand batchers size their
   * transactions by it).
   */
  prepare?(workers: number): void;
  /** Updates carried per physical write since the last call, when the subject batches. */
  groupSize?(): number | undefined;
  /** Releases everything; may report facts about what was written (bytes on disk, events). */
  close(): Promise<Record<string, number> | void>;
}

/**
 * `Subject.groupSize` for a log that counts its appends and events: updates per append since the
 * last call.
 */
export function groupMeter(
  log: { readonly appends: number; readonly events: number },
): () => number | undefined {
  let appends = 0;
  let events = 0;
  return () => {
    const g = log.appends > appends ? (log.events - events) / (log.appends - appends) : undefined;
    appends = log.appends;
    events = log.events;
    return g;
  };
}
