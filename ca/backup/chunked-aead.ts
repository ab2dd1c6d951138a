/**
 * Chunked AES-256-GCM (the STREAM construction): the plaintext is cut into chunks of exactly
 * `chunkSize` bytes, but the last, which is shorter (possibly empty) and flagged final. Chunk i is
 * sealed under nonce = 0x00000000 ‖ u64(i), with AAD = SHA-256(header) ‖ u64(i) ‖ final flag, so:
 *
 *   - a changed byte anywhere fails that chunk's tag;
 *   - chunks swapped, reordered or taken from another archive fail (index and header in the AAD,
 *     and every archive has its own content key);
 *   - an archive cut at a chunk boundary ends without a final chunk, one cut inside a chunk or with
 *     bytes appended fails the last tag: truncation and extension are both detected.
 *
 * On disk a chunk is its ciphertext followed by its 16-byte tag; only the last frame is short.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { damaged } from "./header.js";

export const TAG_LENGTH = 16;

function nonce(index: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64BE(BigInt(index), 4);
  return n;
}

function aad(headerDigest: Buffer, index: number, final: boolean): Buffer {
  const a = Buffer.alloc(headerDigest.length + 9);
  headerDigest.copy(a, 0);
  a.writeBigUInt64BE(BigInt(index), headerDigest.length);
  a[headerDigest.length + 8] = final ? 1 : 0;
  return a;
}

/** Seals a plaintext stream into frames; hand every frame to `write` in order. */
export class ChunkSealer {
  readonly #key: Buffer;
  readonly #headerDigest: Buffer;
  readonly #chunkSize: number;
  readonly #write: (frame: Buffer) => Promise<void>;
  readonly #pending: Buffer;
  #filled = 0;
  #index = 0;
  #finished = false;

  constructor(key: Buffer, headerDigest: Buffer, chunkSize: number, write: (frame: Buffer) => Promise<void>) {
    this.#key = key;
    this.#headerDigest = headerDigest;
    this.#chunkSize = chunkSize;
    this.#write = write;
    this.#pending = Buffer.alloc(chunkSize);
  }

  /** Chunks written so far. */
  get chunks(): number {
    return this.#index;
  }

  async push(data: Uint8Array): Promise<void> {
    let at = 0;
    while (at < data.length) {
      const n = Math.min(data.length - at, this.#chunkSize - this.#filled);
      this.#pending.set(data.subarray(at, at + n), this.#filled);
      this.#filled += n;
      at += n;
      // A full chunk is never the final one: the final chunk is the short (maybe empty) one after it.
      if (this.#filled === this.#chunkSize) await this.#seal(false);
    }
  }

  async finish(): Promise<void> {
    if (this.#finished) return;
    await this.#seal(true);
    this.#finished = true;
  }

  async #seal(final: boolean): Promise<void> {
    const cipher = createCipheriv("aes-256-gcm", this.#key, nonce(this.#index), { authTagLength: TAG_LENGTH });
    cipher.setAAD(aad(this.#headerDigest, this.#index, final));
    const frame = Buffer.concat([cipher.update(this.#pending.subarray(0, this.#filled)), cipher.final(), cipher.getAuthTag()]);
    this.#index += 1;
    this.#filled = 0;
    await this.#write(frame);
  }
}

/** Read `length` bytes at `position`, fewer only at the end of the file. */
async function readFully(handle: FileHandle, buffer: Buffer, length: number, position: number): Promise<number> {
  let got = 0;
  while (got < length) {
    const { bytesRead } = await handle.read(buffer, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

/**
 * The plaintext chunks of the frames from `offset` to the end of the file, each checked before it
 * is handed out. `onBytes` sees every byte read (the archive's own SHA-256). INPUT_INVALID, with
 * `details.chunk`, for any damage.
 */
export async function* openChunks(
  handle: FileHandle,
  offset: number,
  options: { key: Buffer; headerDigest: Buffer; chunkSize: number; source: string; onBytes?: (bytes: Buffer) => void },
): AsyncGenerator<Buffer> {
  const frameSize = options.chunkSize + TAG_LENGTH;
  const frame = Buffer.alloc(frameSize);
  let position = offset;
  for (let index = 0; ; index++) {
    const got = await readFully(handle, frame, frameSize, position);
    position += got;
    options.onBytes?.(frame.subarray(0, got));
    if (got === 0) throw damaged("truncated", `${options.source} is truncated: it ends after chunk ${index} without its final chunk`, { chunk: index });
    const final = got < frameSize;
    if (got < TAG_LENGTH) throw damaged("truncated", `${options.source} is truncated inside chunk ${index}`, { chunk: index });
    const decipher = createDecipheriv("aes-256-gcm", options.key, nonce(index), { authTagLength: TAG_LENGTH });
    decipher.setAAD(aad(options.headerDigest, index, final));
    decipher.setAuthTag(frame.subarray(got - TAG_LENGTH, got));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(frame.subarray(0, got - TAG_LENGTH)), decipher.final()]);
    } catch {
      throw damaged(
        "damaged-chunk",
        `${options.source} is damaged or was altered: chunk ${index}${final ? " (the last)" : ""} does not authenticate${final ? " (or the archive was cut short or has bytes appended)" : ""}`,
        { chunk: index },
      );
    }
    yield plain;
    if (final) return;
  }
}
