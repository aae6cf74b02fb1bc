/**
 * The contract suite moved to testing/ (it ships as `ckpt/testing`); this path stays so existing
 * adapter tests keep importing it.
 */
export * from "../../testing/index.ts";
