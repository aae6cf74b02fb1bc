#!/usr/bin/env node
/**
 * In-repo launcher for ckpt-server on Node: loads the TypeScript sources through tsx (a dev
 * dependency). The published bin is dist/server/node.js.
 */
import { register } from "tsx/esm/api";

register();
const { run } = await import("./node.ts");
await run(process.argv.slice(2));
