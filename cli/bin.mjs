#!/usr/bin/env node
/**
 * In-repo launcher for the `ckpt` CLI on Node: loads the TypeScript sources through tsx (a dev
 * dependency). The published bin is dist/cli/main.js.
 */
import { register } from "tsx/esm/api";

register();
await import("./main.ts");
