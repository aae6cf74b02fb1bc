#!/usr/bin/env node
/** The `ckpt-server` bin on Node: lets Node load the TypeScript sources through tsx, then starts the sidecar. */
import { register } from "tsx/esm/api";

register();
const { run } = await import("./node.ts");
await run(process.argv.slice(2));
