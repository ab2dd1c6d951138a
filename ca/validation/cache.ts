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
  /**
   * The same buffers are often passed on every call (a server's trust anchors and intermediates):
   * a buffer seen before skips the hash when its bytes still equal the decoded certificate's
   * (a byte comparison, much cheaper than SHA-256, and safe if the buffer was reused).
   */
  private readonly byBuffer = new WeakMap<Uint8Array, ParsedCertificate>();

  constructor(readonly capacity = 10_000) {}

  /** The decoded certificate; INPUT_INVALID when `der` is not one (failures are not cached). */
  get(der: Uint8Array): ParsedCertificate {
    const seen = this.byBuffer.get(der);
    if (seen && this.entries.has(seen.id) && Buffer.from(der.buffer, der.byteOffset, der.byteLength).equals(seen.der)) {
      this.entries.delete(seen.id); // most recently used last
      this.entries.set(seen.id, seen);
      return seen;
    }
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
    this.byBuffer.set(der, parsed);
    return parsed;
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}
