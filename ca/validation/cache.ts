/**
 * A cache of decoded certificates keyed by the SHA-256 of their DER, least recently used out
 * first. Validating many devices under the same intermediates and roots then decodes, imports and
 * checks the signatures of those CA certificates once (a ParsedCertificate remembers the outcome
 * of each signature check made on it). Keyed by content, never by buffer identity: a caller that
 * reuses one buffer for many certificates gets the right one every time.
 */
import { parseCertificateForValidation, sha256Hex, type ParsedCertificate } from "./certificate.js";

export class CertificateCache {
  private readonly entries = new Map<string, ParsedCertificate>();

  constructor(readonly capacity = 10_000) {}

  /** The decoded certificate; INPUT_INVALID when `der` is not one (failures are not cached). */
  get(der: Uint8Array): ParsedCertificate {
    const id = sha256Hex(der);
    let parsed = this.entries.get(id);
    if (parsed) {
      this.entries.delete(id); // re-insert: most recently used last
    } else {
      parsed = parseCertificateForValidation(der, id);
      if (this.entries.size >= this.capacity) {
        const oldest = this.entries.keys().next();
        if (!oldest.done) this.entries.delete(oldest.value);
      }
    }
    this.entries.set(id, parsed);
    return parsed;
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}
