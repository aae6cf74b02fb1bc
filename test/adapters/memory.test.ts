/** The memory adapter runs the shared contract. */
import { memoryLog } from "../../adapters/memory.ts";
import { contractSuite } from "../contract/index.ts";

contractSuite("memory", async () => ({ log: memoryLog(), cleanup: async () => {} }), {
  durable: false,
});
