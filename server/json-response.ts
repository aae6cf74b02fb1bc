/**
 * A JSON response without Hono's c.json: its header merging builds a `Headers` object whenever a
 * route adds one (an ETag, say), and @hono/node-server then converts it back; plain header objects
 * take its fast path straight to the socket. Same status, body and header values as c.json.
 */

/** @example return jsonResponse({ revision: 41 }, 200, { etag: '"41"' }) */
export function jsonResponse(
  body: unknown,
  status = 200,
  headers?: Record<string, string>,
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: headers
      ? { "content-type": "application/json", ...headers }
      : { "content-type": "application/json" },
  });
}
