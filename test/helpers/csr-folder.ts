/** A folder of device CSRs, as a contract manufacturer delivers it. */
import { newKeyPair } from "./keys.js";

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createCsr, toPem } from "../../ca/index.js";

/** `count` PEM CSRs named dev-000000.csr..., CN = the file's base name. Keys are shared in runs of 50 (speed). */
export function writeCsrFolder(dir: string, count: number, options: { prefix?: string; der?: boolean } = {}): string[] {
  mkdirSync(dir, { recursive: true });
  const prefix = options.prefix ?? "dev";
  let key = newKeyPair("ec", { namedCurve: "P-256" }).privateKey;
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    if (i % 50 === 49) key = newKeyPair("ec", { namedCurve: "P-256" }).privateKey;
    const id = `${prefix}-${String(i).padStart(6, "0")}`;
    const der = createCsr(key, id);
    const name = `${id}.${options.der ? "der" : "csr"}`;
    writeFileSync(join(dir, name), options.der ? der : toPem(der, "CERTIFICATE REQUEST"));
    names.push(name);
  }
  return names;
}
