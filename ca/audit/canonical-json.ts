/**
 * Canonical JSON (sorted keys, no whitespace, undefined members left out): the bytes an audit
 * entry's hash covers. Written as plain loops: a batch hashes two entries per certificate, and the
 * Object.entries/filter/map form cost more than the SHA-256 of the result.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ",";
      out += canonicalJson(value[i]) ?? ""; // as Array.prototype.join renders undefined
    }
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = "{";
  for (const key of keys) {
    const member = record[key];
    if (member === undefined) continue;
    if (out.length > 1) out += ",";
    out += `${JSON.stringify(key)}:${canonicalJson(member)}`;
  }
  return `${out}}`;
}
