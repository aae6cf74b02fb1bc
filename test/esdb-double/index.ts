/**
 * PROTOCOL DOUBLE of EventStoreDB, for tests only (never shipped): an in-process gRPC server
 * speaking what the real client needs.
 */
import * as grpc from "@grpc/grpc-js";
import { createServer, type Socket } from "node:net";
import { features, ServerFeaturesService, StreamsService } from "./pb.ts";
import { Store } from "./store.ts";
import { type Context, streamsService } from "./streams-service.ts";

export interface DoubleOptions {
  /** Clock for `created` and `$maxAge` (ms since the epoch). */
  now?: () => number;
  /**
   * gRPC paths ServerFeatures.GetSupportedMethods advertises. Default: BatchAppend, like every
   * server since 21.10. `false`: the call is UNIMPLEMENTED, like a server that predates it, and the
   * client falls back to plain Append.
   */
  advertise?: string[] | false | undefined;
}

export interface Double extends Context {
  connectionString: string;
  close(): Promise<void>;
}

/**
 * Starts the double on a free loopback port.
 * @example
 * const esdb = await startDouble();
 * const client = EventStoreDBClient.connectionString(esdb.connectionString);
 * await esdb.close();
 */
export async function startDouble(options: DoubleOptions = {}): Promise<Double> {
  const ctx: Context = {
    store: new Store(options.now),
    faults: { dropAppendReplies: 0 },
    calls: [],
  };
  const advertise = options.advertise ?? [StreamsService.batchAppend.path];
  const server = new grpc.Server();
  server.addService(StreamsService, streamsService(ctx));
  server.addService(ServerFeaturesService, {
    getSupportedMethods(_call: unknown, callback: grpc.sendUnaryData<unknown>) {
      ctx.calls.push("GetSupportedMethods");
      if (!advertise) {
        return callback({ code: grpc.status.UNIMPLEMENTED, details: "double: no server features" });
      }
      const methods = advertise.map((path) => {
        const [, service = "", method = ""] = path.split("/");
        return new features.SupportedMethod().setServiceName(service).setMethodName(method);
      });
      callback(
        null,
        new features.SupportedMethods().setMethodsList(methods).setEventStoreServerVersion(
          "0.0.0-double",
        ),
      );
    },
  });
  // Sockets are accepted here and handed to grpc-js so close() can drop them outright: a graceful
  // HTTP/2 shutdown (GOAWAY) between a client and a server in the same Deno process crashes Deno
  // 2.9's node:http2 (nghttp2 assertion).
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const sockets = new Set<Socket>();
  const tcp = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    injector.injectConnection(socket);
  });
  await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", resolve));
  const { port } = tcp.address() as { port: number };
  return {
    ...ctx,
    connectionString: `esdb://127.0.0.1:${port}?tls=false`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
      injector.destroy();
    },
  };
}
