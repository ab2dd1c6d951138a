/**
 * What one archived file's bytes add up to, seen as they stream past: size, SHA-256, the number of
 * lines and the last complete line. JSON-lines files (segments, the revocation log, the audit log)
 * are counted by their lines, and the audit log's last line is the chain head.
 */
import { createHash, type Hash } from "node:crypto";

export interface FileTally {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  /** Newline characters in the file. */
  readonly lines: number;
  /** The last line that ends with a newline (without it); undefined when there is none or it is over 1 MiB. */
  readonly lastLine: string | undefined;
}

const MAX_KEPT_LINE = 1 << 20;

export class TallyingFile {
  readonly path: string;
  readonly #hash: Hash = createHash("sha256");
  #size = 0;
  #lines = 0;
  /** Bytes after the last newline seen (undefined once they exceed the bound). */
  #open: Buffer[] | undefined = [];
  #openLength = 0;
  #last: Buffer | undefined;

  constructor(path: string) {
    this.path = path;
  }

  get size(): number {
    return this.#size;
  }

  update(chunk: Uint8Array): void {
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.#hash.update(buf);
    this.#size += buf.length;
    const lastNl = buf.lastIndexOf(10);
    if (lastNl === -1) {
      this.#keepOpen(buf);
      return;
    }
    for (let at = buf.indexOf(10); at !== -1; at = buf.indexOf(10, at + 1)) this.#lines += 1;
    const prevNl = lastNl === 0 ? -1 : buf.lastIndexOf(10, lastNl - 1);
    if (prevNl === -1) {
      this.#keepOpen(buf.subarray(0, lastNl));
      this.#last = this.#open ? Buffer.concat(this.#open) : undefined;
    } else {
      this.#last = Buffer.from(buf.subarray(prevNl + 1, lastNl));
    }
    this.#open = [];
    this.#openLength = 0;
    this.#keepOpen(buf.subarray(lastNl + 1));
  }

  #keepOpen(bytes: Buffer): void {
    if (!this.#open || bytes.length === 0) return;
    this.#openLength += bytes.length;
    if (this.#openLength > MAX_KEPT_LINE) this.#open = undefined;
    else this.#open.push(Buffer.from(bytes));
  }

  result(): FileTally {
    return { path: this.path, size: this.#size, sha256: this.#hash.digest("hex"), lines: this.#lines, lastLine: this.#last?.toString("utf8") };
  }
}
