/**
 * The operations endpoints: liveness, readiness, Prometheus metrics and the OpenAPI document
 * itself.
 */
import { endpoint, NoQuery } from "./common.ts";

export const Ops = {
  health: endpoint({ method: "GET", path: "/healthz" }),
  ready: endpoint({ method: "GET", path: "/readyz" }),
  metrics: endpoint({ method: "GET", path: "/metrics", query: NoQuery }),
  openapi: endpoint({ method: "GET", path: "/openapi.json" }),
};
