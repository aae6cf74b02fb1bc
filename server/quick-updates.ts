/**
 * The single-update hot path's body, `{"updates":[{"type":"item","index":7}]}`, checked by hand:
 * the shape a worker sends for every item. Anything else, and every error, is left to the zod
 * schema (UpdatesBody), so refusals keep their exact codes, messages and issue paths.
 */
import type { Update } from "../protocol/stages.ts";

/** Most updates one request may carry (UpdatesBody's `.max`). */
const MAX_UPDATES = 20_000;

/**
 * `raw` as UpdatesBody would parse it when it is nothing but bare item updates; otherwise
 * undefined.
 */
export function quickItemUpdates(raw: unknown): { updates: Update[] } | undefined {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return undefined;
  const keys = Object.keys(raw);
  if (keys.length !== 1 || keys[0] !== "updates") return undefined;
  const updates = (raw as { updates: unknown }).updates;
  if (!Array.isArray(updates) || updates.length > MAX_UPDATES) return undefined;
  for (const u of updates) {
    if (typeof u !== "object" || u === null || Array.isArray(u)) return undefined;
    const k = Object.keys(u);
    if (
      k.length !== 2 ||
      !((k[0] === "type" && k[1] === "index") || (k[0] === "index" && k[1] === "type"))
    ) return undefined;
    const { type, index } = u as { type: unknown; index: unknown };
    if (type !== "item" || !Number.isSafeInteger(index) || (index as number) < 0) return undefined;
  }
  // Parsed JSON is fresh and plain: the object itself is what the schema would have rebuilt.
  return raw as { updates: Update[] };
}
