/**
 * Streaming digests of an image: read once, never held in memory. Two fixed 1 MiB buffers take
 * turns: while one is hashed, the next read fills the other, so reading overlaps hashing and no
 * memory is allocated per chunk (the process stays small whatever the image size).
 */
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import { TrustlineError } from "../errors.js";

const CHUNK = 1 << 20;

export async function digestFile(path: string, algorithms: readonly ("sha256" | "sha384" | "sha512")[], what = "the image"): Promise<{ digests: Map<string, Uint8Array>; size: number }> {
  const hashes = new Map([...new Set(algorithms)].map((a) => [a, createHash(a)] as const));
  let size = 0;
  let file;
  try {
    file = await open(path, "r");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TrustlineError(code === "ENOENT" ? "NOT_FOUND" : "INPUT_INVALID", `cannot read ${what} ${path}: ${code === "ENOENT" ? "no such file" : (code ?? (e as Error).message)}`);
  }
  try {
    const buffers = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
    let turn = 0;
    let pending = file.read(buffers[0]!, 0, CHUNK, null);
    for (;;) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) break;
      const current = buffers[turn]!;
      turn ^= 1;
      pending = file.read(buffers[turn]!, 0, CHUNK, null); // the next read runs while this chunk is hashed
      const chunk = current.subarray(0, bytesRead);
      for (const h of hashes.values()) h.update(chunk);
      size += bytesRead;
    }
  } catch (e) {
    throw new TrustlineError("INPUT_INVALID", `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  } finally {
    await file.close();
  }
  return { digests: new Map([...hashes].map(([a, h]) => [a, new Uint8Array(h.digest())])), size };
}
