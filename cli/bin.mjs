#!/usr/bin/env node
/** The `ckpt` bin on Node: lets Node load the TypeScript sources through tsx, then runs the CLI. */
import { register } from "tsx/esm/api";

register();
await import("./main.ts");
