/** What auditors run: verify the trail, read it. */
import type { Home } from "../home.js";
import { SIGNATURE_ALGORITHMS, signatureAlgorithmFor } from "../keys/signer.js";
import type { AuditEntry, AuditVerdict } from "./log.js";

export async function verifyAuditLog(home: Home): Promise<AuditVerdict> {
  const key = home.state.auditKey;
  return home.audit.verify(Buffer.from(key.publicKey, "base64"), SIGNATURE_ALGORITHMS[signatureAlgorithmFor(key.keyAlgorithm)].hash);
}

export function readAuditLog(home: Home, options: { since?: Date } = {}): AsyncIterable<AuditEntry> {
  return home.audit.read(options.since);
}
