/**
 * The PostgreSQL adapter runs the shared contract, unmodified, against one throwaway server (a
 * fresh schema per test).
 */
import { test } from "uvu";
import { postgresLog } from "../../adapters/postgres.ts";
import { contractSuite } from "../contract/index.ts";
import { adminPool, testPostgres, uniqueSchema } from "../helpers/postgres-server.ts";

const server = await testPostgres();
const admin = adminPool(server.url);

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
      await admin.query(`drop schema if exists "${schema}" cascade`);
    },
  };
}, { durable: true });

// Runs after the contract suite (uvu runs suites in order): stop the server.
test.after(async () => {
  await admin.end();
  await server.close();
});
test("server stopped after the contract", () => undefined);
test.run();
