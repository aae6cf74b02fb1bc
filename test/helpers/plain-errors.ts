/**
 * uvu's reporter throws on an error whose `details` is not a string (CkptError's is an object),
 * then counts the test as neither passed nor failed; `plain(fn)` rethrows such errors plainly so
 * failures show.
 */
export function plain(run: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await run();
    } catch (e) {
      const details = (e as { details?: unknown } | null)?.details;
      if (details === undefined || typeof details === "string") throw e;
      throw new Error(`${(e as { code?: string }).code}: ${(e as Error).message}`, { cause: e });
    }
  };
}
