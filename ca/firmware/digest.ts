/** Streaming digests of an image: it is read once, in 1 MiB chunks, never held in memory. */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { TrustlineError } from "../errors.js";

export async function digestFile(path: string, algorithms: readonly ("sha256" | "sha384" | "sha512")[]): Promise<{ digests: Map<string, Uint8Array>; size: number }> {
  const hashes = new Map([...new Set(algorithms)].map((a) => [a, createHash(a)] as const));
  let size = 0;
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      size += (chunk as Buffer).length;
      for (const h of hashes.values()) h.update(chunk as Buffer);
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TrustlineError(code === "ENOENT" ? "NOT_FOUND" : "INPUT_INVALID", `cannot read the image ${path}: ${code === "ENOENT" ? "no such file" : (code ?? (e as Error).message)}`);
  }
  return { digests: new Map([...hashes].map(([a, h]) => [a, new Uint8Array(h.digest())])), size };
}
