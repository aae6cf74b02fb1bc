/** The generated protobuf classes and service definitions, loaded from the very files @eventstore/db-client requires. */
import { createRequire } from "node:module";

// require (not import) so Node and Deno both hand back the CommonJS module instances the client
// already loaded: the generated serializers check replies with instanceof, and a second copy would
// also overwrite the `proto.*` globals google-protobuf registers.
const require = createRequire(import.meta.url);
/**
 * Resolves modules the way the client's own files do (google-protobuf is its dependency, not ours).
 */
export const clientRequire = createRequire(require.resolve("@eventstore/db-client"));
const dir = "@eventstore/db-client/generated";

export const streams: typeof import("@eventstore/db-client/generated/streams_pb.js") = require(
  `${dir}/streams_pb.js`,
);
export const shared: typeof import("@eventstore/db-client/generated/shared_pb.js") = require(
  `${dir}/shared_pb.js`,
);
export const status: typeof import("@eventstore/db-client/generated/status_pb.js") = require(
  `${dir}/status_pb.js`,
);
export const features: typeof import("@eventstore/db-client/generated/serverfeatures_pb.js") =
  require(`${dir}/serverfeatures_pb.js`);
export const { StreamsService }:
  typeof import("@eventstore/db-client/generated/streams_grpc_pb.js") = require(
    `${dir}/streams_grpc_pb.js`,
  );
export const { ServerFeaturesService }:
  typeof import("@eventstore/db-client/generated/serverfeatures_grpc_pb.js") = require(
    `${dir}/serverfeatures_grpc_pb.js`,
  );

/**
 * google.protobuf.Empty and Any, as the generated files import them (BatchAppend uses these, not
 * shared.Empty).
 */
export const { Empty }: typeof import("google-protobuf/google/protobuf/empty_pb.js") =
  clientRequire("google-protobuf/google/protobuf/empty_pb.js");
export const { Any }: typeof import("google-protobuf/google/protobuf/any_pb.js") = clientRequire(
  "google-protobuf/google/protobuf/any_pb.js",
);
