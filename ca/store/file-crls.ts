/**
 * The embedded store's latest CRLs: one file per CA, `<home>/crl/<ca>.json` (the CRL's fields, its
 * DER in base64), replaced atomically so a reader sees the old CRL or the new one. The format is
 * the one `serve --workers` published before the CRL moved into the store, plus coversRevocations;
 * a file without it (written by an older trustline) is served but counts as covering nothing, so
 * the next issuing process replaces it.
 */
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "./atomic.js";
import type { CrlStore, StoredCrl } from "./home-storage.js";

interface CrlFile extends Omit<StoredCrl, "der" | "coversRevocations"> {
  readonly der: string;
  readonly coversRevocations?: number;
}

export class FileCrlStore implements CrlStore {
  readonly #dir: string;
  /** The last file read per CA, by inode and mtime: workers ask several times a second, the file rarely changes. */
  readonly #read = new Map<string, { version: string; crl: StoredCrl }>();

  constructor(dir: string) {
    this.#dir = dir;
  }

  async latest(ca: string): Promise<StoredCrl | undefined> {
    const path = join(this.#dir, `${ca}.json`);
    let version: string;
    try {
      const s = statSync(path);
      version = `${s.ino}:${s.mtimeMs}:${s.size}`;
    } catch {
      return undefined; // none issued yet
    }
    const known = this.#read.get(ca);
    if (known?.version === version) return known.crl;
    const crl = parse(readFileSync(path, "utf8"));
    // An unreadable file is treated as absent: a CRL is derived data, the next issuer writes it again.
    if (crl === undefined || crl.ca !== ca) return undefined;
    this.#read.set(ca, { version, crl });
    return crl;
  }

  async put(crl: StoredCrl): Promise<void> {
    mkdirSync(this.#dir, { recursive: true });
    const file: CrlFile = { ...crl, der: Buffer.from(crl.der).toString("base64") };
    // No directory fsync: a CRL lost in a power cut is issued again (its number is in state.json).
    writeFileAtomic(join(this.#dir, `${crl.ca}.json`), JSON.stringify(file), { syncDirectory: false });
  }
}

function parse(text: string): StoredCrl | undefined {
  let f: Partial<CrlFile>;
  try {
    f = JSON.parse(text) as Partial<CrlFile>;
  } catch {
    return undefined;
  }
  if (f === null || typeof f !== "object") return undefined;
  const { ca, der, crlNumber, thisUpdate, nextUpdate, entries, dropped, coversRevocations } = f;
  if (typeof ca !== "string" || typeof der !== "string" || typeof thisUpdate !== "string" || typeof nextUpdate !== "string") return undefined;
  if (![crlNumber, entries, dropped].every((n) => Number.isSafeInteger(n))) return undefined;
  return {
    ca,
    der: new Uint8Array(Buffer.from(der, "base64")),
    crlNumber: crlNumber!,
    thisUpdate,
    nextUpdate,
    entries: entries!,
    dropped: dropped!,
    coversRevocations: Number.isSafeInteger(coversRevocations) ? coversRevocations! : -1,
  };
}
