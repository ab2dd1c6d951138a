/**
 * The clear header of a backup archive, and the keys it leads to.
 *
 *   "TLBACKUP"          8 bytes, magic
 *   length              u32 big-endian, bytes of the JSON that follows (at most 4 KiB)
 *   header JSON         format, cipher, chunk size, KDF name and parameters with its salt, the
 *                       archive salt, the key check
 *   SHA-256             32 bytes over everything before it: a damaged header is told apart from a
 *                       wrong passphrase (a forger can recompute it, but gains nothing: the digest
 *                       is in every chunk's AAD and the keys come from the passphrase)
 *
 * The passphrase goes through scrypt (its salt and cost in the header) to a master key; HKDF-SHA256
 * with the archive's own random salt turns the master key into the content key (AES-256-GCM) and a
 * 16-byte key check kept in the header. The content key is therefore new for every archive, also
 * when a raw key is reused, so the chunk counter alone is a safe nonce. The key check lets a wrong
 * passphrase be named as such; it lets a guesser test passphrases no faster than the first chunk's
 * tag would, since every guess costs one scrypt.
 */
import { createHash, hkdfSync, randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { TrustlineError } from "../errors.js";

export const BACKUP_FORMAT = "trustline-backup/1";
const MAGIC = Buffer.from("TLBACKUP", "latin1");
const MAX_HEADER_JSON = 4096;
export const DEFAULT_CHUNK_SIZE = 1 << 20;

/** What opens an archive: a passphrase (scrypt), or a 32-byte key held elsewhere (a vault, a KMS). */
export type BackupSecret = { readonly passphrase: string } | { readonly key: Uint8Array };

export interface ScryptParams {
  /** CPU/memory cost, a power of two: 2^17 uses 128 MiB and about a second. */
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/** OWASP's scrypt recommendation (N = 2^17, r = 8, p = 1). */
export const DEFAULT_BACKUP_SCRYPT: ScryptParams = { N: 1 << 17, r: 8, p: 1 };

/** What a reader accepts: enough to be a real KDF, bounded so a header cannot ask for gigabytes. */
const SCRYPT_BOUNDS = { minLogN: 14, maxLogN: 20, maxR: 16, maxP: 4 } as const;

export type KdfParams = ({ readonly name: "scrypt"; readonly salt: string } & ScryptParams) | { readonly name: "raw" };

export interface ArchiveHeader {
  readonly format: typeof BACKUP_FORMAT;
  readonly cipher: "aes-256-gcm";
  /** Plaintext bytes per chunk (every chunk but the last holds exactly this many). */
  readonly chunkSize: number;
  readonly kdf: KdfParams;
  /** base64, 16 bytes: HKDF salt of the content key and key check. */
  readonly archiveSalt: string;
  /** base64, 16 bytes. */
  readonly keyCheck: string;
}

/** The header as read or written: its fields, its bytes and their SHA-256 (bound into every chunk). */
export interface SealedHeader {
  readonly header: ArchiveHeader;
  readonly bytes: Buffer;
  readonly digest: Buffer;
  readonly contentKey: Buffer;
}

export const damaged = (reason: string, message: string, details: Record<string, unknown> = {}): TrustlineError =>
  new TrustlineError("INPUT_INVALID", message, { details: { reason, ...details } });

function checkScrypt(params: ScryptParams): void {
  const logN = Math.log2(params.N);
  const ok =
    Number.isInteger(logN) && logN >= SCRYPT_BOUNDS.minLogN && logN <= SCRYPT_BOUNDS.maxLogN && Number.isInteger(params.r) && params.r >= 1 && params.r <= SCRYPT_BOUNDS.maxR && Number.isInteger(params.p) && params.p >= 1 && params.p <= SCRYPT_BOUNDS.maxP;
  if (!ok) throw new TrustlineError("USAGE", `scrypt parameters N=${params.N} r=${params.r} p=${params.p} are outside what archives accept (N a power of two from 2^14 to 2^20, r 1-16, p 1-4)`);
}

async function masterKey(secret: BackupSecret, kdf: KdfParams): Promise<Buffer> {
  if ("key" in secret) {
    if (kdf.name !== "raw") throw new TrustlineError("KEY_UNAVAILABLE", "this archive is opened with a passphrase, not a key", { details: { reason: "wrong-passphrase" } });
    if (secret.key.length !== 32) throw new TrustlineError("USAGE", "a backup key is 32 bytes");
    return Buffer.from(secret.key);
  }
  if (kdf.name !== "scrypt") throw new TrustlineError("KEY_UNAVAILABLE", "this archive is opened with a 32-byte key, not a passphrase", { details: { reason: "wrong-passphrase" } });
  const { N, r, p } = kdf;
  return new Promise((resolve, reject) =>
    scrypt(secret.passphrase.normalize("NFC"), Buffer.from(kdf.salt, "base64"), 32, { N, r, p, maxmem: 256 * N * r + (1 << 20) }, (e, key) => (e ? reject(e) : resolve(key))),
  );
}

function derive(master: Buffer, archiveSalt: Buffer): { contentKey: Buffer; keyCheck: Buffer } {
  const contentKey = Buffer.from(hkdfSync("sha256", master, archiveSalt, `${BACKUP_FORMAT} content`, 32));
  const keyCheck = Buffer.from(hkdfSync("sha256", master, archiveSalt, `${BACKUP_FORMAT} key check`, 16));
  return { contentKey, keyCheck };
}

function encodeHeader(header: ArchiveHeader): { bytes: Buffer; digest: Buffer } {
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length);
  const body = Buffer.concat([MAGIC, length, json]);
  const digest = createHash("sha256").update(body).digest();
  return { bytes: Buffer.concat([body, digest]), digest };
}

/** A new header with fresh salts, for a new archive. */
export async function newHeader(secret: BackupSecret, options: { scrypt?: ScryptParams; chunkSize?: number } = {}): Promise<SealedHeader> {
  const params = options.scrypt ?? DEFAULT_BACKUP_SCRYPT;
  checkScrypt(params);
  const kdf: KdfParams = "key" in secret ? { name: "raw" } : { name: "scrypt", N: params.N, r: params.r, p: params.p, salt: randomBytes(16).toString("base64") };
  const archiveSalt = randomBytes(16);
  const { contentKey, keyCheck } = derive(await masterKey(secret, kdf), archiveSalt);
  const header: ArchiveHeader = {
    format: BACKUP_FORMAT,
    cipher: "aes-256-gcm",
    chunkSize: options.chunkSize ?? DEFAULT_CHUNK_SIZE,
    kdf,
    archiveSalt: archiveSalt.toString("base64"),
    keyCheck: keyCheck.toString("base64"),
  };
  return { header, ...encodeHeader(header), contentKey };
}

/** The header's length on disk, from its first 12 bytes; INPUT_INVALID when they are not a Trustline backup's. */
export function headerLength(prefix: Buffer, source: string): number {
  if (prefix.length < 12 || !prefix.subarray(0, 8).equals(MAGIC)) throw damaged("not-a-backup", `${source} is not a Trustline backup archive (no TLBACKUP magic)`);
  const length = prefix.readUInt32BE(8);
  if (length === 0 || length > MAX_HEADER_JSON) throw damaged("damaged-header", `the header of ${source} is damaged (a length of ${length} bytes)`);
  return 12 + length + 32;
}

const isBase64Of = (v: unknown, bytes: number): v is string => typeof v === "string" && /^[A-Za-z0-9+/]+=*$/.test(v) && Buffer.from(v, "base64").length === bytes;

/** Parse and check the header's bytes, then derive the keys from the secret: KEY_UNAVAILABLE when it does not open the archive. */
export async function openHeader(bytes: Buffer, secret: BackupSecret, source: string): Promise<SealedHeader> {
  const body = bytes.subarray(0, bytes.length - 32);
  const digest = createHash("sha256").update(body).digest();
  if (!digest.equals(bytes.subarray(bytes.length - 32))) throw damaged("damaged-header", `the header of ${source} is damaged (its checksum does not match): the archive was altered or corrupted`);
  let h: Partial<ArchiveHeader> & { kdf?: Partial<KdfParams & ScryptParams & { salt: string }> };
  try {
    h = JSON.parse(body.subarray(12).toString("utf8")) as typeof h;
  } catch {
    throw damaged("damaged-header", `the header of ${source} is not readable`);
  }
  if (h === null || typeof h !== "object" || h.format !== BACKUP_FORMAT) {
    throw damaged("unsupported-format", `${source} is a backup of format ${String(h?.format)}; this Trustline reads ${BACKUP_FORMAT}`);
  }
  const kdf = h.kdf;
  const chunkOk = Number.isInteger(h.chunkSize) && h.chunkSize! >= 1 << 12 && h.chunkSize! <= 1 << 24;
  const kdfOk = kdf !== null && typeof kdf === "object" && (kdf.name === "raw" || (kdf.name === "scrypt" && isBase64Of(kdf.salt, 16)));
  if (h.cipher !== "aes-256-gcm" || !chunkOk || !kdfOk || !isBase64Of(h.archiveSalt, 16) || !isBase64Of(h.keyCheck, 16)) {
    throw damaged("damaged-header", `the header of ${source} is not one this Trustline can read (cipher, chunk size, KDF or salts)`);
  }
  if (kdf!.name === "scrypt") {
    try {
      checkScrypt({ N: kdf!.N!, r: kdf!.r!, p: kdf!.p! });
    } catch {
      throw damaged("damaged-header", `the header of ${source} asks for scrypt parameters out of bounds (N=${kdf!.N} r=${kdf!.r} p=${kdf!.p})`);
    }
  }
  const header = h as ArchiveHeader;
  const { contentKey, keyCheck } = derive(await masterKey(secret, header.kdf), Buffer.from(header.archiveSalt, "base64"));
  if (!timingSafeEqual(keyCheck, Buffer.from(header.keyCheck, "base64"))) {
    throw new TrustlineError("KEY_UNAVAILABLE", `the backup passphrase does not open ${source}: it is the wrong passphrase (the header is intact, so this is not damage, unless someone rewrote the header on purpose)`, {
      details: { reason: "wrong-passphrase" },
    });
  }
  return { header, bytes, digest, contentKey };
}
