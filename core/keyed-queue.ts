/**
 * One task at a time per key (a stage, a stream), in call order: the LevelDB adapter's writes per
 * stream, the sidecar's guarded log and its held runs per stage. A failed task does not stop the
 * next.
 */
export type KeyedQueue = <T>(key: string, fn: () => Promise<T>) => Promise<T>;

export function keyedQueue(): KeyedQueue {
  const tails = new Map<string, Promise<unknown>>();
  return <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const before = tails.get(key);
    // Nothing in flight for this key: start now, without a turn of the microtask queue (the append
    // path is hot).
    const p = before ? before.then(fn, fn) : start(fn);
    const tail = p.catch(() => undefined);
    tails.set(key, tail);
    void tail.then(() => tails.get(key) === tail && tails.delete(key));
    return p;
  };
}

function start<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return fn();
  } catch (err) {
    return Promise.reject(err);
  }
}
