/**
 * The HTTP adapter runs the shared EventLog contract against a real sidecar on a loopback port
 * (LevelDB behind it).
 */
import { connectHttpLog } from "../../adapters/http.ts";
import type { EventLog } from "../../core/log.ts";
import { contractSuite } from "../contract/index.ts";
import { sidecar, TOKENS } from "../server/helpers.ts";

contractSuite("http", async () => {
  // The contract appends bare event sequences (items with no run begun), which the sidecar
  // refuses by default because such a stage could not replay; the bare contract is the option.
  const s = await sidecar({ serve: true, auth: true, store: { checkTransitions: false } });
  let log: EventLog = await connectHttpLog({ url: s.url, token: TOKENS.admin });
  return {
    log,
    reopen: async () => {
      await log.close();
      return (log = await connectHttpLog({ url: s.url, token: TOKENS.admin }));
    },
    cleanup: () => s.close(),
  };
}, { durable: true });
