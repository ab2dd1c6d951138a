/**
 * PKCS#8 EncryptedPrivateKeyInfo (RFC 5958) with PBES2 (RFC 8018), scrypt as the key derivation
 * function (RFC 7914 §7) and AES-256-CBC. This is the standard container OpenSSL writes with
 * `openssl pkcs8 -topk8 -scrypt`, so `openssl pkey` can open our CA keys too.
 *
 * Why our own code: node:crypto's `export({cipher})` uses PBKDF2 with OpenSSL's default of 2048
 * iterations, far below a high work factor, and cannot choose scrypt.
 */
import { createCipheriv, createDecipheriv, createPrivateKey, type KeyObject, randomBytes, scrypt as nodeScrypt } from "node:crypto";
import { children, content, DerError, oid, oidText, readRoot, sequence, tlv, type Tlv } from "../x509/der.js";

const OID_PBES2 = "1.2.840.113549.1.5.13";
const OID_SCRYPT = "1.3.6.1.4.1.11591.4.11";
const OID_AES256_CBC = "2.16.840.1.101.3.4.1.42";

export interface ScryptParams {
  readonly salt: Uint8Array;
  /** CPU/memory cost N (a power of two). */
  readonly cost: number;
  readonly blockSize: number;
  readonly parallelization: number;
}

/**
 * N=2^14, r=8, p=2: ~0.1 s per derivation on the reference machine, 16 MiB per lane. The work is
 * that of N=2^15, p=1, but the memory stays under OpenSSL's 32 MiB limit for PBES2-scrypt, so
 * `openssl pkey` can still open a CA key (backup, recovery, migration to an HSM).
 */
export const DEFAULT_SCRYPT = { cost: 1 << 14, blockSize: 8, parallelization: 2 } as const;

export class WrongPassphraseError extends Error {
  override readonly name = "WrongPassphraseError";
}

function derInteger(n: number): Uint8Array {
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  if (bytes.length === 0 || bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(0x02, Uint8Array.from(bytes));
}

function readInteger(buf: Uint8Array, t: Tlv): number {
  if (t.tag !== 0x02) throw new DerError("expected INTEGER");
  let v = 0;
  for (const b of content(buf, t)) v = v * 256 + b;
  return v;
}

/** Derives the AES-256 key. Results are cached by the caller (one derivation per process and salt). */
export function deriveKey(passphrase: string, params: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    nodeScrypt(
      passphrase.normalize("NFC"),
      params.salt,
      32,
      { N: params.cost, r: params.blockSize, p: params.parallelization, maxmem: 256 * params.cost * params.blockSize + 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

export function encryptPrivateKey(privateKey: KeyObject, key: Buffer, params: ScryptParams): Uint8Array {
  const plain = privateKey.export({ format: "der", type: "pkcs8" });
  const iv = randomBytes(16);
  const cipher = createCipheriv("aes-256-cbc", key, iv);
  const encrypted = Buffer.concat([cipher.update(plain), cipher.final()]);
  plain.fill(0);
  const algorithm = sequence(
    oid(OID_PBES2),
    sequence(
      sequence(
        oid(OID_SCRYPT),
        sequence(tlv(0x04, params.salt), derInteger(params.cost), derInteger(params.blockSize), derInteger(params.parallelization), derInteger(32)),
      ),
      sequence(oid(OID_AES256_CBC), tlv(0x04, iv)),
    ),
  );
  return sequence(algorithm, tlv(0x04, encrypted));
}

export interface EncryptedKeyInfo {
  readonly params: ScryptParams;
  readonly iv: Uint8Array;
  readonly ciphertext: Uint8Array;
}

/** Parse the container; throws DerError on anything but PBES2/scrypt/AES-256-CBC. */
export function parseEncryptedPrivateKey(der: Uint8Array): EncryptedKeyInfo {
  const root = readRoot(der);
  const [alg, data] = children(der, root);
  if (!alg || !data || data.tag !== 0x04) throw new DerError("not an EncryptedPrivateKeyInfo");
  const [algOid, pbes2] = children(der, alg);
  if (!algOid || !pbes2 || oidText(content(der, algOid)) !== OID_PBES2) throw new DerError("the key is not PBES2-encrypted");
  const [kdf, enc] = children(der, pbes2);
  if (!kdf || !enc) throw new DerError("malformed PBES2 parameters");
  const [kdfOid, kdfParams] = children(der, kdf);
  if (!kdfOid || !kdfParams || oidText(content(der, kdfOid)) !== OID_SCRYPT) throw new DerError("the key's KDF is not scrypt");
  const [salt, cost, blockSize, parallelization] = children(der, kdfParams);
  if (!salt || !cost || !blockSize || !parallelization || salt.tag !== 0x04) throw new DerError("malformed scrypt parameters");
  const [encOid, iv] = children(der, enc);
  if (!encOid || !iv || oidText(content(der, encOid)) !== OID_AES256_CBC || iv.tag !== 0x04) throw new DerError("the key's cipher is not AES-256-CBC");
  return {
    params: {
      salt: content(der, salt),
      cost: readInteger(der, cost),
      blockSize: readInteger(der, blockSize),
      parallelization: readInteger(der, parallelization),
    },
    iv: content(der, iv),
    ciphertext: content(der, data),
  };
}

export function decryptPrivateKey(info: EncryptedKeyInfo, key: Buffer): KeyObject {
  let plain: Buffer;
  try {
    const decipher = createDecipheriv("aes-256-cbc", key, info.iv);
    plain = Buffer.concat([decipher.update(info.ciphertext), decipher.final()]);
  } catch {
    throw new WrongPassphraseError("wrong passphrase");
  }
  try {
    // A wrong key still yields valid padding about once in 256 tries: then the PKCS#8 parse fails.
    return createPrivateKey({ key: plain, format: "der", type: "pkcs8" });
  } catch {
    throw new WrongPassphraseError("wrong passphrase");
  } finally {
    plain.fill(0);
  }
}

export function paramsEqual(a: ScryptParams, b: ScryptParams): boolean {
  return a.cost === b.cost && a.blockSize === b.blockSize && a.parallelization === b.parallelization && Buffer.from(a.salt).equals(Buffer.from(b.salt));
}
