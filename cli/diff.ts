/**
 * Structural comparison that names where two plain-data values first differ
 * ("state.counters.failed: 3 vs 2").
 */

/**
 * The first difference between `a` and `b`, or undefined when they are equal. Key order is ignored,
 * and a key holding `undefined` equals a missing key (serialisers disagree about those).
 * `ignore` lists dotted paths to skip.
 * @example firstDifference({ a: { b: 1 } }, { a: { b: 2 } }) // "a.b: 1 vs 2"
 */
export function firstDifference(
  a: unknown,
  b: unknown,
  ignore: readonly string[] = [],
  path = "",
): string | undefined {
  if (ignore.includes(path)) return undefined;
  if (Object.is(a, b) || (a === 0 && b === 0)) return undefined;
  const show = (v: unknown) => {
    const s = JSON.stringify(v) ?? String(v);
    return s.length > 60 ? s.slice(0, 57) + "..." : s;
  };
  const here = path || "(root)";
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) {
    return `${here}: ${show(a)} vs ${show(b)}`;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return `${here}: ${show(a)} vs ${show(b)}`;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${here}: ${a.length} entries vs ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], b[i], ignore, `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ra), ...Object.keys(rb)]);
  for (const k of [...keys].sort()) {
    if (ra[k] === undefined && rb[k] === undefined) continue;
    const d = firstDifference(ra[k], rb[k], ignore, path ? `${path}.${k}` : k);
    if (d) return d;
  }
  return undefined;
}
