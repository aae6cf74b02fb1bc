/** The PostgreSQL adapter runs the shared contract, unmodified, against one throwaway server (a fresh schema per test). */
import postgres from "postgres";
import { test } from "uvu";
import { postgresLog } from "../../adapters/postgres.ts";
import { contractSuite } from "../contract/index.ts";
import { testPostgres, uniqueSchema } from "../helpers/postgres-server.ts";

const server = await testPostgres();
const admin = postgres(server.url, { max: 1, onnotice: () => undefined });

contractSuite("postgres", async () => {
  const schema = uniqueSchema("c");
  let log = await postgresLog({ url: server.url, schema, max: 4 });
  return {
    log,
    reopen: async () => {
      await log.close();
      return (log = await postgresLog({ url: server.url, schema, max: 4 }));
    },
    cleanup: async () => {
      await log.close().catch(() => undefined);
      await admin.unsafe(`drop schema if exists "${schema}" cascade`);
    },
  };
});

// Runs after the contract suite (uvu runs suites in order): stop the server.
test.after(async () => {
  await admin.end();
  await server.close();
});
test("server stopped after the contract", () => undefined);
test.run();
