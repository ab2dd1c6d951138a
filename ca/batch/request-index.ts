/**
 * The requests a batch has issued (request SHA-256 -> serial), kept small: a batch of a million
 * CSRs must not need a gigabyte to remember what it did. Keys are the first 128 bits of the
 * request hash and values the serial's bytes, both as one-byte-per-byte strings: about 90 bytes an
 * entry instead of about 200 for the hex strings. 128 bits keep keys unique (two of a million
 * requests share a prefix with probability ~1e-27).
 */

/** The map itself: what workers receive (a Map of strings clones cheaply into a thread). */
export type RequestMap = Map<string, string>;

const keyOf = (requestSha256: string): string => Buffer.from(requestSha256.slice(0, 32), "hex").toString("latin1");

export class RequestIndex {
  readonly map: RequestMap;

  constructor(map: RequestMap = new Map()) {
    this.map = map;
  }

  set(requestSha256: string, serial: string): void {
    this.map.set(keyOf(requestSha256), Buffer.from(serial, "hex").toString("latin1"));
  }

  /** The serial (hex) issued for this request, if any. */
  get(requestSha256: string): string | undefined {
    const serial = this.map.get(keyOf(requestSha256));
    return serial === undefined ? undefined : Buffer.from(serial, "latin1").toString("hex");
  }

  has(requestSha256: string): boolean {
    return this.map.has(keyOf(requestSha256));
  }

  get size(): number {
    return this.map.size;
  }
}
