/** The slice of autocannon (a bench-only dependency, loaded through deps.ts) the sidecar rows use. */

export interface AutocannonResult {
  duration: number;
  "2xx": number;
  non2xx: number;
  errors: number;
  timeouts: number;
  latency: { p50: number; p90: number; p99: number; max: number };
}

export interface AutocannonRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  setupRequest?: (req: { body?: string }) => { body?: string };
}

export type Autocannon = (o: {
  url: string;
  connections: number;
  duration: number;
  requests?: AutocannonRequest[];
  [option: string]: unknown;
}) => Promise<AutocannonResult>;
