/**
 * The CLI's view of the one flag grammar (runtime/flags.ts), which `ckpt-server` reads its flags
 * with too.
 */
export { bool, editDistance, list, parseArgs, str, suggest } from "../runtime/flags.ts";
export type { FlagSpec, FlagSpecs, ParsedArgs, PositionalSpec } from "../runtime/flags.ts";
