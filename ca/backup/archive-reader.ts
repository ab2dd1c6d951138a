/**
 * Reads an archive: the clear header, the keys, then every chunk (authenticated before use), the
 * manifest and each file in turn, handed to a sink as it is decrypted. Every file's size and
 * SHA-256 is checked against the manifest and the content must end exactly where the last file
 * does. Memory stays at about two chunks, whatever the size of the home.
 *
 * A sink sees bytes that passed their chunk's tag but not yet their file's digest: it must treat
 * nothing as final until the read returns (restore writes into a temporary folder).
 */
import { createHash } from "node:crypto";
import { open, stat } from "node:fs/promises";
import { TrustlineError } from "../errors.js";
import { openChunks } from "./chunked-aead.js";
import { type FileTally, TallyingFile } from "./file-tally.js";
import { type ArchiveHeader, type BackupSecret, damaged, headerLength, openHeader } from "./header.js";
import { type ArchivedFile, type BackupManifest, MAX_MANIFEST_BYTES, parseManifest } from "./manifest.js";

/** Where the files of an archive go as they are read. */
export interface ArchiveSink {
  /** The manifest, before any file. */
  manifest?(manifest: BackupManifest): Promise<void> | void;
  begin(file: ArchivedFile): Promise<void> | void;
  write(bytes: Buffer): Promise<void> | void;
  end(file: ArchivedFile): Promise<void> | void;
}

export interface ReadArchive {
  readonly header: ArchiveHeader;
  readonly manifest: BackupManifest;
  readonly files: readonly FileTally[];
  /** SHA-256 of the archive file, hex (as `backup` printed and audited it). */
  readonly sha256: string;
  readonly size: number;
  readonly chunks: number;
}

/** Decrypts the plaintext stream: 4-byte length, manifest, then the files back to back. */
class ContentParser {
  readonly #source: string;
  readonly #sink: ArchiveSink | undefined;
  #prefix: Buffer = Buffer.alloc(0);
  #manifestLength: number | undefined;
  manifest: BackupManifest | undefined;
  readonly files: FileTally[] = [];
  #index = 0;
  #current: { file: ArchivedFile; tally: TallyingFile } | undefined;

  constructor(source: string, sink: ArchiveSink | undefined) {
    this.#source = source;
    this.#sink = sink;
  }

  async push(chunk: Buffer): Promise<void> {
    let data = chunk;
    if (!this.manifest) {
      data = await this.#readManifest(data);
      if (!this.manifest) return;
    }
    while (data.length > 0) {
      if (!this.#current) {
        await this.#startNext();
        if (!this.#current) throw damaged("trailing-data", `${this.#source} holds data after its last file`);
      }
      const { file, tally } = this.#current;
      const take = Math.min(data.length, file.size - tally.size);
      const part = data.subarray(0, take);
      tally.update(part);
      await this.#sink?.write(part);
      data = data.subarray(take);
      if (tally.size === file.size) await this.#finishCurrent();
    }
  }

  async #readManifest(data: Buffer): Promise<Buffer> {
    this.#prefix = Buffer.concat([this.#prefix, data]);
    if (this.#manifestLength === undefined) {
      if (this.#prefix.length < 4) return Buffer.alloc(0);
      this.#manifestLength = this.#prefix.readUInt32BE(0);
      if (this.#manifestLength === 0 || this.#manifestLength > MAX_MANIFEST_BYTES) throw damaged("damaged-manifest", `the manifest of ${this.#source} has an impossible length (${this.#manifestLength} bytes)`);
    }
    if (this.#prefix.length < 4 + this.#manifestLength) return Buffer.alloc(0);
    this.manifest = parseManifest(this.#prefix.subarray(4, 4 + this.#manifestLength), this.#source);
    const rest = this.#prefix.subarray(4 + this.#manifestLength);
    this.#prefix = Buffer.alloc(0);
    await this.#sink?.manifest?.(this.manifest);
    return rest;
  }

  /** Open the next file; empty files are begun and ended at once. */
  async #startNext(): Promise<void> {
    const files = this.manifest!.files;
    while (this.#index < files.length) {
      const file = files[this.#index++]!;
      this.#current = { file, tally: new TallyingFile(file.path) };
      await this.#sink?.begin(file);
      if (file.size > 0) return;
      await this.#finishCurrent();
    }
  }

  async #finishCurrent(): Promise<void> {
    const { file, tally } = this.#current!;
    const result = tally.result();
    if (result.sha256 !== file.sha256) throw damaged("file-digest", `${file.path} in ${this.#source} does not match the SHA-256 its manifest lists`, { path: file.path });
    await this.#sink?.end(file);
    this.files.push(result);
    this.#current = undefined;
  }

  async finish(): Promise<void> {
    if (!this.manifest) throw damaged("truncated", `${this.#source} ends before its manifest`);
    if (!this.#current) await this.#startNext(); // trailing empty files
    if (this.#current || this.files.length !== this.manifest.files.length) {
      throw damaged("truncated", `${this.#source} ends inside ${this.#current?.file.path ?? "its files"}: its content is shorter than its manifest says`);
    }
  }
}

/** Read and check `path` with `secret`, handing each file to `sink`. */
export async function readBackupArchive(path: string, secret: BackupSecret, sink?: ArchiveSink): Promise<ReadArchive> {
  let handle;
  try {
    if (!(await stat(path)).isFile()) throw new TrustlineError("INPUT_INVALID", `${path} is not a regular file`);
    handle = await open(path, "r");
  } catch (e) {
    if (e instanceof TrustlineError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new TrustlineError(code === "ENOENT" ? "NOT_FOUND" : "INPUT_INVALID", `cannot read the backup archive ${path}: ${code === "ENOENT" ? "no such file" : (code ?? (e as Error).message)}`);
  }
  try {
    const archiveHash = createHash("sha256");
    const prefix = Buffer.alloc(12);
    const { bytesRead } = await handle.read(prefix, 0, 12, 0);
    const length = headerLength(prefix.subarray(0, bytesRead), path);
    const headerBytes = Buffer.alloc(length);
    if ((await handle.read(headerBytes, 0, length, 0)).bytesRead !== length) throw damaged("truncated", `${path} is truncated inside its header`);
    const sealed = await openHeader(headerBytes, secret, path);
    archiveHash.update(headerBytes);
    let size = length;
    let chunks = 0;
    const parser = new ContentParser(path, sink);
    const plaintext = openChunks(handle, length, {
      key: sealed.contentKey,
      headerDigest: sealed.digest,
      chunkSize: sealed.header.chunkSize,
      source: path,
      onBytes: (b) => {
        archiveHash.update(b);
        size += b.length;
      },
    });
    for await (const chunk of plaintext) {
      chunks += 1;
      await parser.push(chunk);
    }
    await parser.finish();
    return { header: sealed.header, manifest: parser.manifest!, files: parser.files, sha256: archiveHash.digest("hex"), size, chunks };
  } catch (e) {
    // A disk that fails a read is not damage to the archive's content: say which it is.
    const code = (e as NodeJS.ErrnoException).code;
    if (e instanceof TrustlineError || code === undefined || (e as NodeJS.ErrnoException).syscall !== "read") throw e;
    throw new TrustlineError("STORE_UNAVAILABLE", `the disk refused to read the backup archive ${path} (${code})`, { cause: e, details: { path, errno: code } });
  } finally {
    await handle.close();
  }
}
