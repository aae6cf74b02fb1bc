/**
 * One event as a short human line ("#41 ok https://…", "paused: rate limited"), for `replay` and
 * `watch`.
 */
import type { CkptEvent } from "../core/events.ts";
import { cost, int, shortId } from "./format.ts";

export function describeEvent(e: CkptEvent): string {
  const parts: string[] = [];
  const opt = (label: string, v: unknown) =>
    v !== undefined && parts.push(`${label}=${typeof v === "number" ? int(v) : String(v)}`);
  switch (e.type) {
    case "run.started":
      parts.push(`run ${shortId(e.runId)}`);
      if (e.owner) parts.push(`pid ${e.owner.pid} on ${e.owner.host}`);
      opt("total", e.total);
      if (e.input) parts.push(`input=${e.input.slice(0, 12)}…`);
      if (e.config) parts.push(`config=${e.config.slice(0, 12)}…`);
      break;
    case "item":
      parts.push(`#${e.index} ${e.outcome}`);
      if (e.item !== undefined) parts.push(e.item);
      if (e.batch !== undefined) parts.push(`batch=${e.batch}`);
      if (e.cost !== undefined) parts.push(`cost=${cost(e.cost)}`);
      if (e.error !== undefined) parts.push(`error=${JSON.stringify(e.error)}`);
      break;
    case "item.reopened":
      parts.push(`#${e.index}`);
      if (e.reason) parts.push(e.reason);
      break;
    case "progress":
      opt("total", e.total);
      opt("ok", e.ok);
      opt("failed", e.failed);
      opt("skipped", e.skipped);
      if (e.cost !== undefined) parts.push(`cost=${cost(e.cost)}`);
      if (e.message) parts.push(JSON.stringify(e.message));
      break;
    case "unit":
      parts.push(`${e.key} ${e.status}`);
      opt("page", e.page);
      opt("records", e.records);
      if (e.error) {
        parts.push(`error=${JSON.stringify(e.error)}${e.retryable ? " (retryable)" : ""}`);
      }
      break;
    case "error":
      parts.push(JSON.stringify(e.message));
      if (e.retryable) parts.push("(retryable)");
      if (e.index !== undefined) parts.push(`#${e.index}`);
      if (e.item) parts.push(e.item);
      break;
    case "crash.detected":
      if (e.runId) parts.push(`run ${shortId(e.runId)}`);
      if (e.owner) parts.push(`pid ${e.owner.pid} on ${e.owner.host}`);
      break;
    case "paused":
    case "reset":
      if (e.reason) parts.push(e.reason);
      break;
    case "failed":
      parts.push(JSON.stringify(e.message));
      if (e.retryable) parts.push("(retryable)");
      break;
    case "completed":
      if (e.metadata) parts.push(JSON.stringify(e.metadata));
      break;
    case "metadata":
      parts.push(JSON.stringify(e.metadata));
      break;
    case "heartbeat":
      parts.push(`run ${shortId(e.runId)}`);
      break;
    case "resumed":
      break;
    case "checkpoint":
      opt("step", e.step);
      parts.push(`${int(e.bytes)} bytes`);
      if (e.metadata) parts.push(JSON.stringify(e.metadata));
      break;
  }
  return parts.join(" ");
}
