/**
 * The one way a connection string is shown: without its password, token or query (which may carry
 * either). Messages, logs, metrics and the CLI's banner all print targets through here.
 */

/**
 * `postgres://user:secret@host/db?sslpassword=x` → `postgres://user@host/db`;
 * `esdb://admin:changeit@host:2113?tls=false` → `esdb://admin@host:2113`.
 * Strings that are not URLs keep only the scheme and what follows the last `@`.
 */
export function redactUrl(url: string): string {
  // Split by hand rather than with URL: `esdb+discover://a,b,c` and friends are not WHATWG URLs.
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/i.exec(url);
  if (!m) return url.includes("@") ? `…@${url.slice(url.lastIndexOf("@") + 1)}` : url;
  const [, scheme, authority, rest] = m as unknown as [string, string, string, string];
  const at = authority.lastIndexOf("@");
  const user = at < 0 ? "" : authority.slice(0, at).split(":")[0]!;
  const host = at < 0 ? authority : authority.slice(at + 1);
  const path = rest.replace(/[?#].*$/, "");
  return `${scheme}${user ? `${user}@` : ""}${host}${path}`;
}
